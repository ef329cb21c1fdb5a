import * as $protobuf from "protobufjs/minimal.js";
import Long = require("long");

/** Namespace cert. */
export namespace cert {

    /**
     * Properties of a RawNebulaCertificate.
     * @deprecated Use cert.RawNebulaCertificate.$Properties instead.
     */
    interface IRawNebulaCertificate extends cert.RawNebulaCertificate.$Properties {
    }

    /** Represents a RawNebulaCertificate. */
    class RawNebulaCertificate {

        /**
         * Constructs a new RawNebulaCertificate.
         * @param [properties] Properties to set
         */
        constructor(properties?: cert.RawNebulaCertificate.$Properties);

        /** Unknown fields preserved while decoding when enabled */
        $unknowns?: Uint8Array[];

        /** RawNebulaCertificate Details. */
        Details?: (cert.RawNebulaCertificateDetails.$Properties|null);

        /** RawNebulaCertificate Signature. */
        Signature: Uint8Array;

        /**
         * Encodes the specified RawNebulaCertificate message. Does not implicitly {@link cert.RawNebulaCertificate.verify|verify} messages.
         * @param message RawNebulaCertificate message or plain object to encode
         * @param [writer] Writer to encode to
         * @returns Writer
         */
        static encode(message: cert.RawNebulaCertificate.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Decodes a RawNebulaCertificate message from the specified reader or buffer.
         * @param reader Reader or buffer to decode from
         * @param [length] Message length if known beforehand
         * @returns {cert.RawNebulaCertificate & cert.RawNebulaCertificate.$Shape} RawNebulaCertificate
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): cert.RawNebulaCertificate & cert.RawNebulaCertificate.$Shape;
    }

    namespace RawNebulaCertificate {

        /** Properties of a RawNebulaCertificate. */
        interface $Properties {

            /** RawNebulaCertificate Details */
            Details?: (cert.RawNebulaCertificateDetails.$Properties|null);

            /** RawNebulaCertificate Signature */
            Signature?: (Uint8Array|null);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];
        }

        /** Shape of a RawNebulaCertificate. */
        type $Shape = cert.RawNebulaCertificate.$Properties;
    }

    /**
     * Properties of a RawNebulaCertificateDetails.
     * @deprecated Use cert.RawNebulaCertificateDetails.$Properties instead.
     */
    interface IRawNebulaCertificateDetails extends cert.RawNebulaCertificateDetails.$Properties {
    }

    /** Represents a RawNebulaCertificateDetails. */
    class RawNebulaCertificateDetails {

        /**
         * Constructs a new RawNebulaCertificateDetails.
         * @param [properties] Properties to set
         */
        constructor(properties?: cert.RawNebulaCertificateDetails.$Properties);

        /** Unknown fields preserved while decoding when enabled */
        $unknowns?: Uint8Array[];

        /** RawNebulaCertificateDetails Name. */
        Name: string;

        /** RawNebulaCertificateDetails Ips. */
        Ips: number[];

        /** RawNebulaCertificateDetails Subnets. */
        Subnets: number[];

        /** RawNebulaCertificateDetails Groups. */
        Groups: string[];

        /** RawNebulaCertificateDetails NotBefore. */
        NotBefore: (number|Long);

        /** RawNebulaCertificateDetails NotAfter. */
        NotAfter: (number|Long);

        /** RawNebulaCertificateDetails PublicKey. */
        PublicKey: Uint8Array;

        /** RawNebulaCertificateDetails IsCA. */
        IsCA: boolean;

        /** RawNebulaCertificateDetails Issuer. */
        Issuer: Uint8Array;

        /**
         * Encodes the specified RawNebulaCertificateDetails message. Does not implicitly {@link cert.RawNebulaCertificateDetails.verify|verify} messages.
         * @param message RawNebulaCertificateDetails message or plain object to encode
         * @param [writer] Writer to encode to
         * @returns Writer
         */
        static encode(message: cert.RawNebulaCertificateDetails.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Decodes a RawNebulaCertificateDetails message from the specified reader or buffer.
         * @param reader Reader or buffer to decode from
         * @param [length] Message length if known beforehand
         * @returns {cert.RawNebulaCertificateDetails & cert.RawNebulaCertificateDetails.$Shape} RawNebulaCertificateDetails
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): cert.RawNebulaCertificateDetails & cert.RawNebulaCertificateDetails.$Shape;
    }

    namespace RawNebulaCertificateDetails {

        /** Properties of a RawNebulaCertificateDetails. */
        interface $Properties {

            /** RawNebulaCertificateDetails Name */
            Name?: (string|null);

            /** RawNebulaCertificateDetails Ips */
            Ips?: (number[]|null);

            /** RawNebulaCertificateDetails Subnets */
            Subnets?: (number[]|null);

            /** RawNebulaCertificateDetails Groups */
            Groups?: (string[]|null);

            /** RawNebulaCertificateDetails NotBefore */
            NotBefore?: (number|Long|null);

            /** RawNebulaCertificateDetails NotAfter */
            NotAfter?: (number|Long|null);

            /** RawNebulaCertificateDetails PublicKey */
            PublicKey?: (Uint8Array|null);

            /** RawNebulaCertificateDetails IsCA */
            IsCA?: (boolean|null);

            /** RawNebulaCertificateDetails Issuer */
            Issuer?: (Uint8Array|null);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];
        }

        /** Shape of a RawNebulaCertificateDetails. */
        type $Shape = cert.RawNebulaCertificateDetails.$Properties;
    }
}
