/*eslint-disable block-scoped-var, id-length, no-control-regex, no-magic-numbers, no-mixed-operators, no-prototype-builtins, no-redeclare, no-shadow, no-var, sort-vars, default-case, jsdoc/require-param*/
import $protobuf from "protobufjs/minimal.js";

// Common aliases
const $Reader = $protobuf.Reader, $Writer = $protobuf.Writer, $util = $protobuf.util;
const $Object = $util.global.Object, $undefined = $util.global.undefined, $Error = $util.global.Error, $RangeError = $util.global.RangeError;

// Exported root namespace
const $root = $protobuf.roots["default"] || ($protobuf.roots["default"] = {});

export const cert = $root.cert = (() => {

    /**
     * Namespace cert.
     * @exports cert
     * @namespace
     */
    const cert = {};

    cert.RawNebulaCertificate = (function() {

        /**
         * Properties of a RawNebulaCertificate.
         * @typedef {Object} cert.RawNebulaCertificate.$Properties
         * @property {cert.RawNebulaCertificateDetails.$Properties|null} [Details] RawNebulaCertificate Details
         * @property {Uint8Array|null} [Signature] RawNebulaCertificate Signature
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of a RawNebulaCertificate.
         * @memberof cert
         * @interface IRawNebulaCertificate
         * @augments cert.RawNebulaCertificate.$Properties
         * @deprecated Use cert.RawNebulaCertificate.$Properties instead.
         */

        /**
         * Shape of a RawNebulaCertificate.
         * @typedef {cert.RawNebulaCertificate.$Properties} cert.RawNebulaCertificate.$Shape
         */

        /**
         * Constructs a new RawNebulaCertificate.
         * @memberof cert
         * @classdesc Represents a RawNebulaCertificate.
         * @constructor
         * @param {cert.RawNebulaCertificate.$Properties=} [properties] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        const RawNebulaCertificate = function (properties) {
            if (properties)
                for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                    if (properties[keys[i]] != null && keys[i] !== "__proto__")
                        this[keys[i]] = properties[keys[i]];
        };

        /**
         * RawNebulaCertificate Details.
         * @member {cert.RawNebulaCertificateDetails.$Properties|null|undefined} Details
         * @memberof cert.RawNebulaCertificate
         * @instance
         */
        RawNebulaCertificate.prototype.Details = null;

        /**
         * RawNebulaCertificate Signature.
         * @member {Uint8Array} Signature
         * @memberof cert.RawNebulaCertificate
         * @instance
         */
        RawNebulaCertificate.prototype.Signature = $util.newBuffer([]);

        /**
         * Encodes the specified RawNebulaCertificate message. Does not implicitly {@link cert.RawNebulaCertificate.verify|verify} messages.
         * @function encode
         * @memberof cert.RawNebulaCertificate
         * @static
         * @param {cert.RawNebulaCertificate.$Properties} message RawNebulaCertificate message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        RawNebulaCertificate.encode = function (message, writer, _depth) {
            if (!writer)
                writer = $Writer.create();
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (message.Details != null && $Object.hasOwnProperty.call(message, "Details"))
                $root.cert.RawNebulaCertificateDetails.encode(message.Details, writer.uint32(/* id 1, wireType 2 =*/10).fork(), _depth + 1).ldelim();
            if (message.Signature != null && $Object.hasOwnProperty.call(message, "Signature") && message.Signature.length)
                writer.uint32(/* id 2, wireType 2 =*/18).bytes(message.Signature);
            if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                for (let i = 0; i < message.$unknowns.length; ++i)
                    writer.raw(message.$unknowns[i]);
            return writer;
        };

        /**
         * Decodes a RawNebulaCertificate message from the specified reader or buffer.
         * @function decode
         * @memberof cert.RawNebulaCertificate
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @param {number} [length] Message length if known beforehand
         * @returns {cert.RawNebulaCertificate & cert.RawNebulaCertificate.$Shape} RawNebulaCertificate
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        RawNebulaCertificate.decode = function (reader, length, _end, _depth, _target) {
            if (!(reader instanceof $Reader))
                reader = $Reader.create(reader);
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $Reader.recursionLimit)
                throw $Error("max depth exceeded");
            let end, message, value;
            if (length === $undefined)
                end = reader.len;
            else {
                end = reader.pos + length;
                if (end > reader.len)
                    throw $RangeError("index out of range");
                length = reader.len;
                reader.len = end;
            }
            message = _target || new $root.cert.RawNebulaCertificate();
            while (reader.pos < end) {
                let start = reader.pos;
                let tag = reader.tag();
                if (tag === _end) {
                    _end = $undefined;
                    break;
                }
                let wireType = tag & 7;
                switch (tag >>>= 3) {
                case 1: {
                        if (wireType !== 2)
                            break;
                        message.Details = $root.cert.RawNebulaCertificateDetails.decode(reader, reader.size(), $undefined, _depth + 1, message.Details);
                        continue;
                    }
                case 2: {
                        if (wireType !== 2)
                            break;
                        if ((value = reader.bytes()).length)
                            message.Signature = value;
                        else
                            delete message.Signature;
                        continue;
                    }
                }
                reader.skipType(wireType, _depth, tag);
                if (!reader.discardUnknown) {
                    $util.makeProp(message, "$unknowns", false);
                    (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                }
            }
            if (length !== $undefined) {
                if (reader.pos !== end)
                    throw $RangeError("index out of range");
                reader.len = length;
            }
            if (_end !== $undefined)
                throw $Error("missing end group");
            return message;
        };

        return RawNebulaCertificate;
    })();

    cert.RawNebulaCertificateDetails = (function() {

        /**
         * Properties of a RawNebulaCertificateDetails.
         * @typedef {Object} cert.RawNebulaCertificateDetails.$Properties
         * @property {string|null} [Name] RawNebulaCertificateDetails Name
         * @property {Array.<number>|null} [Ips] RawNebulaCertificateDetails Ips
         * @property {Array.<number>|null} [Subnets] RawNebulaCertificateDetails Subnets
         * @property {Array.<string>|null} [Groups] RawNebulaCertificateDetails Groups
         * @property {number|Long|null} [NotBefore] RawNebulaCertificateDetails NotBefore
         * @property {number|Long|null} [NotAfter] RawNebulaCertificateDetails NotAfter
         * @property {Uint8Array|null} [PublicKey] RawNebulaCertificateDetails PublicKey
         * @property {boolean|null} [IsCA] RawNebulaCertificateDetails IsCA
         * @property {Uint8Array|null} [Issuer] RawNebulaCertificateDetails Issuer
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of a RawNebulaCertificateDetails.
         * @memberof cert
         * @interface IRawNebulaCertificateDetails
         * @augments cert.RawNebulaCertificateDetails.$Properties
         * @deprecated Use cert.RawNebulaCertificateDetails.$Properties instead.
         */

        /**
         * Shape of a RawNebulaCertificateDetails.
         * @typedef {cert.RawNebulaCertificateDetails.$Properties} cert.RawNebulaCertificateDetails.$Shape
         */

        /**
         * Constructs a new RawNebulaCertificateDetails.
         * @memberof cert
         * @classdesc Represents a RawNebulaCertificateDetails.
         * @constructor
         * @param {cert.RawNebulaCertificateDetails.$Properties=} [properties] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        const RawNebulaCertificateDetails = function (properties) {
            this.Ips = [];
            this.Subnets = [];
            this.Groups = [];
            if (properties)
                for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                    if (properties[keys[i]] != null && keys[i] !== "__proto__")
                        this[keys[i]] = properties[keys[i]];
        };

        /**
         * RawNebulaCertificateDetails Name.
         * @member {string} Name
         * @memberof cert.RawNebulaCertificateDetails
         * @instance
         */
        RawNebulaCertificateDetails.prototype.Name = "";

        /**
         * RawNebulaCertificateDetails Ips.
         * @member {Array.<number>} Ips
         * @memberof cert.RawNebulaCertificateDetails
         * @instance
         */
        RawNebulaCertificateDetails.prototype.Ips = $util.emptyArray;

        /**
         * RawNebulaCertificateDetails Subnets.
         * @member {Array.<number>} Subnets
         * @memberof cert.RawNebulaCertificateDetails
         * @instance
         */
        RawNebulaCertificateDetails.prototype.Subnets = $util.emptyArray;

        /**
         * RawNebulaCertificateDetails Groups.
         * @member {Array.<string>} Groups
         * @memberof cert.RawNebulaCertificateDetails
         * @instance
         */
        RawNebulaCertificateDetails.prototype.Groups = $util.emptyArray;

        /**
         * RawNebulaCertificateDetails NotBefore.
         * @member {number|Long} NotBefore
         * @memberof cert.RawNebulaCertificateDetails
         * @instance
         */
        RawNebulaCertificateDetails.prototype.NotBefore = $util.Long ? $util.Long.fromBits(0,0,false) : 0;

        /**
         * RawNebulaCertificateDetails NotAfter.
         * @member {number|Long} NotAfter
         * @memberof cert.RawNebulaCertificateDetails
         * @instance
         */
        RawNebulaCertificateDetails.prototype.NotAfter = $util.Long ? $util.Long.fromBits(0,0,false) : 0;

        /**
         * RawNebulaCertificateDetails PublicKey.
         * @member {Uint8Array} PublicKey
         * @memberof cert.RawNebulaCertificateDetails
         * @instance
         */
        RawNebulaCertificateDetails.prototype.PublicKey = $util.newBuffer([]);

        /**
         * RawNebulaCertificateDetails IsCA.
         * @member {boolean} IsCA
         * @memberof cert.RawNebulaCertificateDetails
         * @instance
         */
        RawNebulaCertificateDetails.prototype.IsCA = false;

        /**
         * RawNebulaCertificateDetails Issuer.
         * @member {Uint8Array} Issuer
         * @memberof cert.RawNebulaCertificateDetails
         * @instance
         */
        RawNebulaCertificateDetails.prototype.Issuer = $util.newBuffer([]);

        /**
         * Encodes the specified RawNebulaCertificateDetails message. Does not implicitly {@link cert.RawNebulaCertificateDetails.verify|verify} messages.
         * @function encode
         * @memberof cert.RawNebulaCertificateDetails
         * @static
         * @param {cert.RawNebulaCertificateDetails.$Properties} message RawNebulaCertificateDetails message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        RawNebulaCertificateDetails.encode = function (message, writer, _depth) {
            if (!writer)
                writer = $Writer.create();
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (message.Name != null && $Object.hasOwnProperty.call(message, "Name") && message.Name !== "")
                writer.uint32(/* id 1, wireType 2 =*/10).string(message.Name);
            if (message.Ips != null && message.Ips.length)
                writer.uint32(/* id 2, wireType 2 =*/18).uint32s(message.Ips);
            if (message.Subnets != null && message.Subnets.length)
                writer.uint32(/* id 3, wireType 2 =*/26).uint32s(message.Subnets);
            if (message.Groups != null && message.Groups.length)
                for (let i = 0; i < message.Groups.length; ++i)
                    writer.uint32(/* id 4, wireType 2 =*/34).string(message.Groups[i]);
            if (message.NotBefore != null && $Object.hasOwnProperty.call(message, "NotBefore") && (typeof message.NotBefore === "object" ? message.NotBefore.low || message.NotBefore.high : message.NotBefore !== 0))
                writer.uint32(/* id 5, wireType 0 =*/40).int64(message.NotBefore);
            if (message.NotAfter != null && $Object.hasOwnProperty.call(message, "NotAfter") && (typeof message.NotAfter === "object" ? message.NotAfter.low || message.NotAfter.high : message.NotAfter !== 0))
                writer.uint32(/* id 6, wireType 0 =*/48).int64(message.NotAfter);
            if (message.PublicKey != null && $Object.hasOwnProperty.call(message, "PublicKey") && message.PublicKey.length)
                writer.uint32(/* id 7, wireType 2 =*/58).bytes(message.PublicKey);
            if (message.IsCA != null && $Object.hasOwnProperty.call(message, "IsCA") && message.IsCA !== false)
                writer.uint32(/* id 8, wireType 0 =*/64).bool(message.IsCA);
            if (message.Issuer != null && $Object.hasOwnProperty.call(message, "Issuer") && message.Issuer.length)
                writer.uint32(/* id 9, wireType 2 =*/74).bytes(message.Issuer);
            if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                for (let i = 0; i < message.$unknowns.length; ++i)
                    writer.raw(message.$unknowns[i]);
            return writer;
        };

        /**
         * Decodes a RawNebulaCertificateDetails message from the specified reader or buffer.
         * @function decode
         * @memberof cert.RawNebulaCertificateDetails
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @param {number} [length] Message length if known beforehand
         * @returns {cert.RawNebulaCertificateDetails & cert.RawNebulaCertificateDetails.$Shape} RawNebulaCertificateDetails
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        RawNebulaCertificateDetails.decode = function (reader, length, _end, _depth, _target) {
            if (!(reader instanceof $Reader))
                reader = $Reader.create(reader);
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $Reader.recursionLimit)
                throw $Error("max depth exceeded");
            let end, message, value;
            if (length === $undefined)
                end = reader.len;
            else {
                end = reader.pos + length;
                if (end > reader.len)
                    throw $RangeError("index out of range");
                length = reader.len;
                reader.len = end;
            }
            message = _target || new $root.cert.RawNebulaCertificateDetails();
            while (reader.pos < end) {
                let start = reader.pos;
                let tag = reader.tag();
                if (tag === _end) {
                    _end = $undefined;
                    break;
                }
                let wireType = tag & 7;
                switch (tag >>>= 3) {
                case 1: {
                        if (wireType !== 2)
                            break;
                        if ((value = reader.stringVerify()).length)
                            message.Name = value;
                        else
                            delete message.Name;
                        continue;
                    }
                case 2: {
                        if (wireType === 2) {
                            if (!(message.Ips && message.Ips.length))
                                message.Ips = [];
                            reader.uint32s(message.Ips);
                            continue;
                        }
                        if (wireType !== 0)
                            break;
                        if (!(message.Ips && message.Ips.length))
                            message.Ips = [];
                        message.Ips.push(reader.uint32());
                        continue;
                    }
                case 3: {
                        if (wireType === 2) {
                            if (!(message.Subnets && message.Subnets.length))
                                message.Subnets = [];
                            reader.uint32s(message.Subnets);
                            continue;
                        }
                        if (wireType !== 0)
                            break;
                        if (!(message.Subnets && message.Subnets.length))
                            message.Subnets = [];
                        message.Subnets.push(reader.uint32());
                        continue;
                    }
                case 4: {
                        if (wireType !== 2)
                            break;
                        if (!(message.Groups && message.Groups.length))
                            message.Groups = [];
                        message.Groups.push(reader.stringVerify());
                        continue;
                    }
                case 5: {
                        if (wireType !== 0)
                            break;
                        if (typeof (value = reader.int64()) === "object" ? value.low || value.high : value !== 0)
                            message.NotBefore = value;
                        else
                            delete message.NotBefore;
                        continue;
                    }
                case 6: {
                        if (wireType !== 0)
                            break;
                        if (typeof (value = reader.int64()) === "object" ? value.low || value.high : value !== 0)
                            message.NotAfter = value;
                        else
                            delete message.NotAfter;
                        continue;
                    }
                case 7: {
                        if (wireType !== 2)
                            break;
                        if ((value = reader.bytes()).length)
                            message.PublicKey = value;
                        else
                            delete message.PublicKey;
                        continue;
                    }
                case 8: {
                        if (wireType !== 0)
                            break;
                        if (value = reader.bool())
                            message.IsCA = value;
                        else
                            delete message.IsCA;
                        continue;
                    }
                case 9: {
                        if (wireType !== 2)
                            break;
                        if ((value = reader.bytes()).length)
                            message.Issuer = value;
                        else
                            delete message.Issuer;
                        continue;
                    }
                }
                reader.skipType(wireType, _depth, tag);
                if (!reader.discardUnknown) {
                    $util.makeProp(message, "$unknowns", false);
                    (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                }
            }
            if (length !== $undefined) {
                if (reader.pos !== end)
                    throw $RangeError("index out of range");
                reader.len = length;
            }
            if (_end !== $undefined)
                throw $Error("missing end group");
            return message;
        };

        return RawNebulaCertificateDetails;
    })();

    return cert;
})();

export {
  $root as default
};
