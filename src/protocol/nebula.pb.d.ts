import * as $protobuf from "protobufjs/minimal.js";
import Long = require("long");

/** Namespace nebula. */
export namespace nebula {

    /**
     * Properties of a NebulaMeta.
     * @deprecated Use nebula.NebulaMeta.$Properties instead.
     */
    interface INebulaMeta extends nebula.NebulaMeta.$Properties {
    }

    /** Represents a NebulaMeta. */
    class NebulaMeta {

        /**
         * Constructs a new NebulaMeta.
         * @param [properties] Properties to set
         */
        constructor(properties?: nebula.NebulaMeta.$Properties);

        /** Unknown fields preserved while decoding when enabled */
        $unknowns?: Uint8Array[];

        /** NebulaMeta type. */
        type: nebula.NebulaMeta.MessageType;

        /** NebulaMeta details. */
        details?: (nebula.NebulaMetaDetails.$Properties|null);

        /**
         * Encodes the specified NebulaMeta message. Does not implicitly {@link nebula.NebulaMeta.verify|verify} messages.
         * @param message NebulaMeta message or plain object to encode
         * @param [writer] Writer to encode to
         * @returns Writer
         */
        static encode(message: nebula.NebulaMeta.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Decodes a NebulaMeta message from the specified reader or buffer.
         * @param reader Reader or buffer to decode from
         * @param [length] Message length if known beforehand
         * @returns {nebula.NebulaMeta & nebula.NebulaMeta.$Shape} NebulaMeta
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): nebula.NebulaMeta & nebula.NebulaMeta.$Shape;
    }

    namespace NebulaMeta {

        /** Properties of a NebulaMeta. */
        interface $Properties {

            /** NebulaMeta type */
            type?: (nebula.NebulaMeta.MessageType|null);

            /** NebulaMeta details */
            details?: (nebula.NebulaMetaDetails.$Properties|null);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];
        }

        /** Shape of a NebulaMeta. */
        type $Shape = nebula.NebulaMeta.$Properties;

        /** MessageType enum. */
        enum MessageType {

            /** None value */
            None = 0,

            /** HostQuery value */
            HostQuery = 1,

            /** HostQueryReply value */
            HostQueryReply = 2,

            /** HostUpdateNotification value */
            HostUpdateNotification = 3,

            /** HostMovedNotification value */
            HostMovedNotification = 4,

            /** HostPunchNotification value */
            HostPunchNotification = 5,

            /** HostWhoami value */
            HostWhoami = 6,

            /** HostWhoamiReply value */
            HostWhoamiReply = 7,

            /** PathCheck value */
            PathCheck = 8,

            /** PathCheckReply value */
            PathCheckReply = 9,

            /** HostUpdateNotificationAck value */
            HostUpdateNotificationAck = 10,

            /** node → lighthouse: which host routes Details.VpnIp (an address in some certificate's subnets)? */
            MeshSubnetQuery = 100,

            /** lighthouse → node: Details.VpnIp owns MeshSubnets (from its certificate), reachable at Ip4AndPorts. */
            MeshSubnetReply = 101,

            /** node → lighthouse: MeshNames[0].Name, please. */
            MeshNameQuery = 103,

            /** lighthouse → node: MeshNames with the addresses known for the name (none: unknown). */
            MeshNameReply = 104,

            /**
             * node → lighthouse: names whose addresses changed (all of a name's current addresses; none:
             * the name is gone), one chunk of the change that took the node's name table to
             * MeshNameTable.Version.
             */
            MeshNamesDelta = 105,

            /** node → lighthouse: chunk MeshNameTable.Chunk of MeshNameTable.Chunks of the whole table at Version. */
            MeshNamesSnapshot = 106,

            /** node → lighthouse, every lighthouse.interval: my table is at MeshNameTable.Epoch/Version. */
            MeshNamesCheck = 107,

            /** lighthouse → node: my copy of your table is not at the version you announced; send a snapshot. */
            MeshNamesResync = 108,

            /**
             * holder of pki.revocations (a lighthouse, usually) → any host: MeshRevocationList, a
             * CA-signed revocation list (pki/revocation.ts). Sent to nodes too: Nebula 1.6 nodes ignore
             * meta types they do not know.
             */
            MeshRevocations = 109,

            /** node → lighthouse, with each HostUpdateNotification: its tunnels (MeshTunnels, MeshTunnelsTotal), for the map. */
            MeshTunnelsReport = 110
        }
    }

    /**
     * Properties of a NebulaMetaDetails.
     * @deprecated Use nebula.NebulaMetaDetails.$Properties instead.
     */
    interface INebulaMetaDetails extends nebula.NebulaMetaDetails.$Properties {
    }

    /** Represents a NebulaMetaDetails. */
    class NebulaMetaDetails {

        /**
         * Constructs a new NebulaMetaDetails.
         * @param [properties] Properties to set
         */
        constructor(properties?: nebula.NebulaMetaDetails.$Properties);

        /** Unknown fields preserved while decoding when enabled */
        $unknowns?: Uint8Array[];

        /** NebulaMetaDetails vpnIp. */
        vpnIp: number;

        /** NebulaMetaDetails ip4AndPorts. */
        ip4AndPorts: nebula.Ip4AndPort.$Properties[];

        /** NebulaMetaDetails counter. */
        counter: number;

        /** NebulaMetaDetails ip6AndPorts. */
        ip6AndPorts: nebula.Ip6AndPort.$Properties[];

        /** NebulaMetaDetails relayVpnIps. */
        relayVpnIps: number[];

        /** NebulaMetaDetails vpnAddr. */
        vpnAddr?: (nebula.Addr.$Properties|null);

        /** NebulaMetaDetails relayVpnAddrs. */
        relayVpnAddrs: nebula.Addr.$Properties[];

        /** NebulaMetaDetails meshSubnets. */
        meshSubnets: nebula.MeshSubnet.$Properties[];

        /** NebulaMetaDetails meshNames. */
        meshNames: nebula.MeshName.$Properties[];

        /** NebulaMetaDetails meshNameTable. */
        meshNameTable?: (nebula.MeshNameTable.$Properties|null);

        /** NebulaMetaDetails meshRevocationList. */
        meshRevocationList: Uint8Array;

        /** NebulaMetaDetails meshTunnels. */
        meshTunnels: nebula.MeshTunnel.$Properties[];

        /** NebulaMetaDetails meshTunnelsTotal. */
        meshTunnelsTotal: number;

        /** NebulaMetaDetails meshNatMapping. */
        meshNatMapping: number;

        /**
         * Encodes the specified NebulaMetaDetails message. Does not implicitly {@link nebula.NebulaMetaDetails.verify|verify} messages.
         * @param message NebulaMetaDetails message or plain object to encode
         * @param [writer] Writer to encode to
         * @returns Writer
         */
        static encode(message: nebula.NebulaMetaDetails.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Decodes a NebulaMetaDetails message from the specified reader or buffer.
         * @param reader Reader or buffer to decode from
         * @param [length] Message length if known beforehand
         * @returns {nebula.NebulaMetaDetails & nebula.NebulaMetaDetails.$Shape} NebulaMetaDetails
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): nebula.NebulaMetaDetails & nebula.NebulaMetaDetails.$Shape;
    }

    namespace NebulaMetaDetails {

        /** Properties of a NebulaMetaDetails. */
        interface $Properties {

            /** NebulaMetaDetails vpnIp */
            vpnIp?: (number|null);

            /** NebulaMetaDetails ip4AndPorts */
            ip4AndPorts?: (nebula.Ip4AndPort.$Properties[]|null);

            /** NebulaMetaDetails counter */
            counter?: (number|null);

            /** NebulaMetaDetails ip6AndPorts */
            ip6AndPorts?: (nebula.Ip6AndPort.$Properties[]|null);

            /** NebulaMetaDetails relayVpnIps */
            relayVpnIps?: (number[]|null);

            /** NebulaMetaDetails vpnAddr */
            vpnAddr?: (nebula.Addr.$Properties|null);

            /** NebulaMetaDetails relayVpnAddrs */
            relayVpnAddrs?: (nebula.Addr.$Properties[]|null);

            /** NebulaMetaDetails meshSubnets */
            meshSubnets?: (nebula.MeshSubnet.$Properties[]|null);

            /** NebulaMetaDetails meshNames */
            meshNames?: (nebula.MeshName.$Properties[]|null);

            /** NebulaMetaDetails meshNameTable */
            meshNameTable?: (nebula.MeshNameTable.$Properties|null);

            /** NebulaMetaDetails meshRevocationList */
            meshRevocationList?: (Uint8Array|null);

            /** NebulaMetaDetails meshTunnels */
            meshTunnels?: (nebula.MeshTunnel.$Properties[]|null);

            /** NebulaMetaDetails meshTunnelsTotal */
            meshTunnelsTotal?: (number|null);

            /** NebulaMetaDetails meshNatMapping */
            meshNatMapping?: (number|null);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];
        }

        /** Shape of a NebulaMetaDetails. */
        type $Shape = nebula.NebulaMetaDetails.$Properties;
    }

    /**
     * Properties of a MeshTunnel.
     * @deprecated Use nebula.MeshTunnel.$Properties instead.
     */
    interface IMeshTunnel extends nebula.MeshTunnel.$Properties {
    }

    /** Represents a MeshTunnel. */
    class MeshTunnel {

        /**
         * Constructs a new MeshTunnel.
         * @param [properties] Properties to set
         */
        constructor(properties?: nebula.MeshTunnel.$Properties);

        /** Unknown fields preserved while decoding when enabled */
        $unknowns?: Uint8Array[];

        /** MeshTunnel peerIp. */
        peerIp: number;

        /** MeshTunnel relayIp. */
        relayIp: number;

        /** MeshTunnel rttMicros. */
        rttMicros: number;

        /** MeshTunnel ageSeconds. */
        ageSeconds: number;

        /**
         * Encodes the specified MeshTunnel message. Does not implicitly {@link nebula.MeshTunnel.verify|verify} messages.
         * @param message MeshTunnel message or plain object to encode
         * @param [writer] Writer to encode to
         * @returns Writer
         */
        static encode(message: nebula.MeshTunnel.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Decodes a MeshTunnel message from the specified reader or buffer.
         * @param reader Reader or buffer to decode from
         * @param [length] Message length if known beforehand
         * @returns {nebula.MeshTunnel & nebula.MeshTunnel.$Shape} MeshTunnel
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): nebula.MeshTunnel & nebula.MeshTunnel.$Shape;
    }

    namespace MeshTunnel {

        /** Properties of a MeshTunnel. */
        interface $Properties {

            /** MeshTunnel peerIp */
            peerIp?: (number|null);

            /** MeshTunnel relayIp */
            relayIp?: (number|null);

            /** MeshTunnel rttMicros */
            rttMicros?: (number|null);

            /** MeshTunnel ageSeconds */
            ageSeconds?: (number|null);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];
        }

        /** Shape of a MeshTunnel. */
        type $Shape = nebula.MeshTunnel.$Properties;
    }

    /**
     * Properties of a MeshSubnet.
     * @deprecated Use nebula.MeshSubnet.$Properties instead.
     */
    interface IMeshSubnet extends nebula.MeshSubnet.$Properties {
    }

    /** Represents a MeshSubnet. */
    class MeshSubnet {

        /**
         * Constructs a new MeshSubnet.
         * @param [properties] Properties to set
         */
        constructor(properties?: nebula.MeshSubnet.$Properties);

        /** Unknown fields preserved while decoding when enabled */
        $unknowns?: Uint8Array[];

        /** MeshSubnet ip. */
        ip: number;

        /** MeshSubnet bits. */
        bits: number;

        /**
         * Encodes the specified MeshSubnet message. Does not implicitly {@link nebula.MeshSubnet.verify|verify} messages.
         * @param message MeshSubnet message or plain object to encode
         * @param [writer] Writer to encode to
         * @returns Writer
         */
        static encode(message: nebula.MeshSubnet.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Decodes a MeshSubnet message from the specified reader or buffer.
         * @param reader Reader or buffer to decode from
         * @param [length] Message length if known beforehand
         * @returns {nebula.MeshSubnet & nebula.MeshSubnet.$Shape} MeshSubnet
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): nebula.MeshSubnet & nebula.MeshSubnet.$Shape;
    }

    namespace MeshSubnet {

        /** Properties of a MeshSubnet. */
        interface $Properties {

            /** MeshSubnet ip */
            ip?: (number|null);

            /** MeshSubnet bits */
            bits?: (number|null);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];
        }

        /** Shape of a MeshSubnet. */
        type $Shape = nebula.MeshSubnet.$Properties;
    }

    /**
     * Properties of a MeshName.
     * @deprecated Use nebula.MeshName.$Properties instead.
     */
    interface IMeshName extends nebula.MeshName.$Properties {
    }

    /** Represents a MeshName. */
    class MeshName {

        /**
         * Constructs a new MeshName.
         * @param [properties] Properties to set
         */
        constructor(properties?: nebula.MeshName.$Properties);

        /** Unknown fields preserved while decoding when enabled */
        $unknowns?: Uint8Array[];

        /** MeshName name. */
        name: string;

        /** MeshName ips. */
        ips: number[];

        /**
         * Encodes the specified MeshName message. Does not implicitly {@link nebula.MeshName.verify|verify} messages.
         * @param message MeshName message or plain object to encode
         * @param [writer] Writer to encode to
         * @returns Writer
         */
        static encode(message: nebula.MeshName.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Decodes a MeshName message from the specified reader or buffer.
         * @param reader Reader or buffer to decode from
         * @param [length] Message length if known beforehand
         * @returns {nebula.MeshName & nebula.MeshName.$Shape} MeshName
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): nebula.MeshName & nebula.MeshName.$Shape;
    }

    namespace MeshName {

        /** Properties of a MeshName. */
        interface $Properties {

            /** MeshName name */
            name?: (string|null);

            /** MeshName ips */
            ips?: (number[]|null);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];
        }

        /** Shape of a MeshName. */
        type $Shape = nebula.MeshName.$Properties;
    }

    /**
     * Properties of a MeshNameTable.
     * @deprecated Use nebula.MeshNameTable.$Properties instead.
     */
    interface IMeshNameTable extends nebula.MeshNameTable.$Properties {
    }

    /** Represents a MeshNameTable. */
    class MeshNameTable {

        /**
         * Constructs a new MeshNameTable.
         * @param [properties] Properties to set
         */
        constructor(properties?: nebula.MeshNameTable.$Properties);

        /** Unknown fields preserved while decoding when enabled */
        $unknowns?: Uint8Array[];

        /** MeshNameTable epoch. */
        epoch: number;

        /** MeshNameTable version. */
        version: number;

        /** MeshNameTable chunk. */
        chunk: number;

        /** MeshNameTable chunks. */
        chunks: number;

        /**
         * Encodes the specified MeshNameTable message. Does not implicitly {@link nebula.MeshNameTable.verify|verify} messages.
         * @param message MeshNameTable message or plain object to encode
         * @param [writer] Writer to encode to
         * @returns Writer
         */
        static encode(message: nebula.MeshNameTable.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Decodes a MeshNameTable message from the specified reader or buffer.
         * @param reader Reader or buffer to decode from
         * @param [length] Message length if known beforehand
         * @returns {nebula.MeshNameTable & nebula.MeshNameTable.$Shape} MeshNameTable
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): nebula.MeshNameTable & nebula.MeshNameTable.$Shape;
    }

    namespace MeshNameTable {

        /** Properties of a MeshNameTable. */
        interface $Properties {

            /** MeshNameTable epoch */
            epoch?: (number|null);

            /** MeshNameTable version */
            version?: (number|null);

            /** MeshNameTable chunk */
            chunk?: (number|null);

            /** MeshNameTable chunks */
            chunks?: (number|null);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];
        }

        /** Shape of a MeshNameTable. */
        type $Shape = nebula.MeshNameTable.$Properties;
    }

    /**
     * Properties of an Addr.
     * @deprecated Use nebula.Addr.$Properties instead.
     */
    interface IAddr extends nebula.Addr.$Properties {
    }

    /** Represents an Addr. */
    class Addr {

        /**
         * Constructs a new Addr.
         * @param [properties] Properties to set
         */
        constructor(properties?: nebula.Addr.$Properties);

        /** Unknown fields preserved while decoding when enabled */
        $unknowns?: Uint8Array[];

        /** Addr hi. */
        hi: (number|Long);

        /** Addr lo. */
        lo: (number|Long);

        /**
         * Encodes the specified Addr message. Does not implicitly {@link nebula.Addr.verify|verify} messages.
         * @param message Addr message or plain object to encode
         * @param [writer] Writer to encode to
         * @returns Writer
         */
        static encode(message: nebula.Addr.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Decodes an Addr message from the specified reader or buffer.
         * @param reader Reader or buffer to decode from
         * @param [length] Message length if known beforehand
         * @returns {nebula.Addr & nebula.Addr.$Shape} Addr
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): nebula.Addr & nebula.Addr.$Shape;
    }

    namespace Addr {

        /** Properties of an Addr. */
        interface $Properties {

            /** Addr hi */
            hi?: (number|Long|null);

            /** Addr lo */
            lo?: (number|Long|null);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];
        }

        /** Shape of an Addr. */
        type $Shape = nebula.Addr.$Properties;
    }

    /**
     * Properties of an Ip4AndPort.
     * @deprecated Use nebula.Ip4AndPort.$Properties instead.
     */
    interface IIp4AndPort extends nebula.Ip4AndPort.$Properties {
    }

    /** Represents an Ip4AndPort. */
    class Ip4AndPort {

        /**
         * Constructs a new Ip4AndPort.
         * @param [properties] Properties to set
         */
        constructor(properties?: nebula.Ip4AndPort.$Properties);

        /** Unknown fields preserved while decoding when enabled */
        $unknowns?: Uint8Array[];

        /** Ip4AndPort ip. */
        ip: number;

        /** Ip4AndPort port. */
        port: number;

        /**
         * Encodes the specified Ip4AndPort message. Does not implicitly {@link nebula.Ip4AndPort.verify|verify} messages.
         * @param message Ip4AndPort message or plain object to encode
         * @param [writer] Writer to encode to
         * @returns Writer
         */
        static encode(message: nebula.Ip4AndPort.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Decodes an Ip4AndPort message from the specified reader or buffer.
         * @param reader Reader or buffer to decode from
         * @param [length] Message length if known beforehand
         * @returns {nebula.Ip4AndPort & nebula.Ip4AndPort.$Shape} Ip4AndPort
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): nebula.Ip4AndPort & nebula.Ip4AndPort.$Shape;
    }

    namespace Ip4AndPort {

        /** Properties of an Ip4AndPort. */
        interface $Properties {

            /** Ip4AndPort ip */
            ip?: (number|null);

            /** Ip4AndPort port */
            port?: (number|null);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];
        }

        /** Shape of an Ip4AndPort. */
        type $Shape = nebula.Ip4AndPort.$Properties;
    }

    /**
     * Properties of an Ip6AndPort.
     * @deprecated Use nebula.Ip6AndPort.$Properties instead.
     */
    interface IIp6AndPort extends nebula.Ip6AndPort.$Properties {
    }

    /** Represents an Ip6AndPort. */
    class Ip6AndPort {

        /**
         * Constructs a new Ip6AndPort.
         * @param [properties] Properties to set
         */
        constructor(properties?: nebula.Ip6AndPort.$Properties);

        /** Unknown fields preserved while decoding when enabled */
        $unknowns?: Uint8Array[];

        /** Ip6AndPort hi. */
        hi: (number|Long);

        /** Ip6AndPort lo. */
        lo: (number|Long);

        /** Ip6AndPort port. */
        port: number;

        /**
         * Encodes the specified Ip6AndPort message. Does not implicitly {@link nebula.Ip6AndPort.verify|verify} messages.
         * @param message Ip6AndPort message or plain object to encode
         * @param [writer] Writer to encode to
         * @returns Writer
         */
        static encode(message: nebula.Ip6AndPort.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Decodes an Ip6AndPort message from the specified reader or buffer.
         * @param reader Reader or buffer to decode from
         * @param [length] Message length if known beforehand
         * @returns {nebula.Ip6AndPort & nebula.Ip6AndPort.$Shape} Ip6AndPort
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): nebula.Ip6AndPort & nebula.Ip6AndPort.$Shape;
    }

    namespace Ip6AndPort {

        /** Properties of an Ip6AndPort. */
        interface $Properties {

            /** Ip6AndPort hi */
            hi?: (number|Long|null);

            /** Ip6AndPort lo */
            lo?: (number|Long|null);

            /** Ip6AndPort port */
            port?: (number|null);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];
        }

        /** Shape of an Ip6AndPort. */
        type $Shape = nebula.Ip6AndPort.$Properties;
    }

    /**
     * Properties of a NebulaHandshake.
     * @deprecated Use nebula.NebulaHandshake.$Properties instead.
     */
    interface INebulaHandshake extends nebula.NebulaHandshake.$Properties {
    }

    /** Represents a NebulaHandshake. */
    class NebulaHandshake {

        /**
         * Constructs a new NebulaHandshake.
         * @param [properties] Properties to set
         */
        constructor(properties?: nebula.NebulaHandshake.$Properties);

        /** Unknown fields preserved while decoding when enabled */
        $unknowns?: Uint8Array[];

        /** NebulaHandshake details. */
        details?: (nebula.NebulaHandshakeDetails.$Properties|null);

        /** NebulaHandshake hmac. */
        hmac: Uint8Array;

        /**
         * Encodes the specified NebulaHandshake message. Does not implicitly {@link nebula.NebulaHandshake.verify|verify} messages.
         * @param message NebulaHandshake message or plain object to encode
         * @param [writer] Writer to encode to
         * @returns Writer
         */
        static encode(message: nebula.NebulaHandshake.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Decodes a NebulaHandshake message from the specified reader or buffer.
         * @param reader Reader or buffer to decode from
         * @param [length] Message length if known beforehand
         * @returns {nebula.NebulaHandshake & nebula.NebulaHandshake.$Shape} NebulaHandshake
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): nebula.NebulaHandshake & nebula.NebulaHandshake.$Shape;
    }

    namespace NebulaHandshake {

        /** Properties of a NebulaHandshake. */
        interface $Properties {

            /** NebulaHandshake details */
            details?: (nebula.NebulaHandshakeDetails.$Properties|null);

            /** NebulaHandshake hmac */
            hmac?: (Uint8Array|null);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];
        }

        /** Shape of a NebulaHandshake. */
        type $Shape = nebula.NebulaHandshake.$Properties;
    }

    /**
     * Properties of a NebulaHandshakeDetails.
     * @deprecated Use nebula.NebulaHandshakeDetails.$Properties instead.
     */
    interface INebulaHandshakeDetails extends nebula.NebulaHandshakeDetails.$Properties {
    }

    /** Represents a NebulaHandshakeDetails. */
    class NebulaHandshakeDetails {

        /**
         * Constructs a new NebulaHandshakeDetails.
         * @param [properties] Properties to set
         */
        constructor(properties?: nebula.NebulaHandshakeDetails.$Properties);

        /** Unknown fields preserved while decoding when enabled */
        $unknowns?: Uint8Array[];

        /** NebulaHandshakeDetails cert. */
        cert: Uint8Array;

        /** NebulaHandshakeDetails initiatorIndex. */
        initiatorIndex: number;

        /** NebulaHandshakeDetails responderIndex. */
        responderIndex: number;

        /** NebulaHandshakeDetails cookie. */
        cookie: (number|Long);

        /** NebulaHandshakeDetails time. */
        time: (number|Long);

        /** NebulaHandshakeDetails certVersion. */
        certVersion: number;

        /**
         * Encodes the specified NebulaHandshakeDetails message. Does not implicitly {@link nebula.NebulaHandshakeDetails.verify|verify} messages.
         * @param message NebulaHandshakeDetails message or plain object to encode
         * @param [writer] Writer to encode to
         * @returns Writer
         */
        static encode(message: nebula.NebulaHandshakeDetails.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Decodes a NebulaHandshakeDetails message from the specified reader or buffer.
         * @param reader Reader or buffer to decode from
         * @param [length] Message length if known beforehand
         * @returns {nebula.NebulaHandshakeDetails & nebula.NebulaHandshakeDetails.$Shape} NebulaHandshakeDetails
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): nebula.NebulaHandshakeDetails & nebula.NebulaHandshakeDetails.$Shape;
    }

    namespace NebulaHandshakeDetails {

        /** Properties of a NebulaHandshakeDetails. */
        interface $Properties {

            /** NebulaHandshakeDetails cert */
            cert?: (Uint8Array|null);

            /** NebulaHandshakeDetails initiatorIndex */
            initiatorIndex?: (number|null);

            /** NebulaHandshakeDetails responderIndex */
            responderIndex?: (number|null);

            /** NebulaHandshakeDetails cookie */
            cookie?: (number|Long|null);

            /** NebulaHandshakeDetails time */
            time?: (number|Long|null);

            /** NebulaHandshakeDetails certVersion */
            certVersion?: (number|null);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];
        }

        /** Shape of a NebulaHandshakeDetails. */
        type $Shape = nebula.NebulaHandshakeDetails.$Properties;
    }

    /**
     * Properties of a NebulaControl.
     * @deprecated Use nebula.NebulaControl.$Properties instead.
     */
    interface INebulaControl extends nebula.NebulaControl.$Properties {
    }

    /** Represents a NebulaControl. */
    class NebulaControl {

        /**
         * Constructs a new NebulaControl.
         * @param [properties] Properties to set
         */
        constructor(properties?: nebula.NebulaControl.$Properties);

        /** Unknown fields preserved while decoding when enabled */
        $unknowns?: Uint8Array[];

        /** NebulaControl type. */
        type: nebula.NebulaControl.MessageType;

        /** NebulaControl initiatorRelayIndex. */
        initiatorRelayIndex: number;

        /** NebulaControl responderRelayIndex. */
        responderRelayIndex: number;

        /** NebulaControl relayToIp. */
        relayToIp: number;

        /** NebulaControl relayFromIp. */
        relayFromIp: number;

        /** NebulaControl relayToAddr. */
        relayToAddr?: (nebula.Addr.$Properties|null);

        /** NebulaControl relayFromAddr. */
        relayFromAddr?: (nebula.Addr.$Properties|null);

        /**
         * Encodes the specified NebulaControl message. Does not implicitly {@link nebula.NebulaControl.verify|verify} messages.
         * @param message NebulaControl message or plain object to encode
         * @param [writer] Writer to encode to
         * @returns Writer
         */
        static encode(message: nebula.NebulaControl.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Decodes a NebulaControl message from the specified reader or buffer.
         * @param reader Reader or buffer to decode from
         * @param [length] Message length if known beforehand
         * @returns {nebula.NebulaControl & nebula.NebulaControl.$Shape} NebulaControl
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): nebula.NebulaControl & nebula.NebulaControl.$Shape;
    }

    namespace NebulaControl {

        /** Properties of a NebulaControl. */
        interface $Properties {

            /** NebulaControl type */
            type?: (nebula.NebulaControl.MessageType|null);

            /** NebulaControl initiatorRelayIndex */
            initiatorRelayIndex?: (number|null);

            /** NebulaControl responderRelayIndex */
            responderRelayIndex?: (number|null);

            /** NebulaControl relayToIp */
            relayToIp?: (number|null);

            /** NebulaControl relayFromIp */
            relayFromIp?: (number|null);

            /** NebulaControl relayToAddr */
            relayToAddr?: (nebula.Addr.$Properties|null);

            /** NebulaControl relayFromAddr */
            relayFromAddr?: (nebula.Addr.$Properties|null);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];
        }

        /** Shape of a NebulaControl. */
        type $Shape = nebula.NebulaControl.$Properties;

        /** MessageType enum. */
        enum MessageType {

            /** None value */
            None = 0,

            /** CreateRelayRequest value */
            CreateRelayRequest = 1,

            /** CreateRelayResponse value */
            CreateRelayResponse = 2
        }
    }
}
