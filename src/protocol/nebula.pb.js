/*eslint-disable block-scoped-var, id-length, no-control-regex, no-magic-numbers, no-mixed-operators, no-prototype-builtins, no-redeclare, no-shadow, no-var, sort-vars, default-case, jsdoc/require-param*/
import $protobuf from "protobufjs/minimal.js";

// Common aliases
const $Reader = $protobuf.Reader, $Writer = $protobuf.Writer, $util = $protobuf.util;
const $Object = $util.global.Object, $undefined = $util.global.undefined, $Error = $util.global.Error, $RangeError = $util.global.RangeError;

// Exported root namespace
const $root = $protobuf.roots["default"] || ($protobuf.roots["default"] = {});

export const nebula = $root.nebula = (() => {

    /**
     * Namespace nebula.
     * @exports nebula
     * @namespace
     */
    const nebula = {};

    nebula.NebulaMeta = (function() {

        /**
         * Properties of a NebulaMeta.
         * @typedef {Object} nebula.NebulaMeta.$Properties
         * @property {nebula.NebulaMeta.MessageType|null} [type] NebulaMeta type
         * @property {nebula.NebulaMetaDetails.$Properties|null} [details] NebulaMeta details
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of a NebulaMeta.
         * @memberof nebula
         * @interface INebulaMeta
         * @augments nebula.NebulaMeta.$Properties
         * @deprecated Use nebula.NebulaMeta.$Properties instead.
         */

        /**
         * Shape of a NebulaMeta.
         * @typedef {nebula.NebulaMeta.$Properties} nebula.NebulaMeta.$Shape
         */

        /**
         * Constructs a new NebulaMeta.
         * @memberof nebula
         * @classdesc Represents a NebulaMeta.
         * @constructor
         * @param {nebula.NebulaMeta.$Properties=} [properties] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        const NebulaMeta = function (properties) {
            if (properties)
                for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                    if (properties[keys[i]] != null && keys[i] !== "__proto__")
                        this[keys[i]] = properties[keys[i]];
        };

        /**
         * NebulaMeta type.
         * @member {nebula.NebulaMeta.MessageType} type
         * @memberof nebula.NebulaMeta
         * @instance
         */
        NebulaMeta.prototype.type = 0;

        /**
         * NebulaMeta details.
         * @member {nebula.NebulaMetaDetails.$Properties|null|undefined} details
         * @memberof nebula.NebulaMeta
         * @instance
         */
        NebulaMeta.prototype.details = null;

        /**
         * Encodes the specified NebulaMeta message. Does not implicitly {@link nebula.NebulaMeta.verify|verify} messages.
         * @function encode
         * @memberof nebula.NebulaMeta
         * @static
         * @param {nebula.NebulaMeta.$Properties} message NebulaMeta message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        NebulaMeta.encode = function (message, writer, _depth) {
            if (!writer)
                writer = $Writer.create();
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (message.type != null && $Object.hasOwnProperty.call(message, "type") && message.type !== 0)
                writer.uint32(/* id 1, wireType 0 =*/8).int32(message.type);
            if (message.details != null && $Object.hasOwnProperty.call(message, "details"))
                $root.nebula.NebulaMetaDetails.encode(message.details, writer.uint32(/* id 2, wireType 2 =*/18).fork(), _depth + 1).ldelim();
            if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                for (let i = 0; i < message.$unknowns.length; ++i)
                    writer.raw(message.$unknowns[i]);
            return writer;
        };

        /**
         * Decodes a NebulaMeta message from the specified reader or buffer.
         * @function decode
         * @memberof nebula.NebulaMeta
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @param {number} [length] Message length if known beforehand
         * @returns {nebula.NebulaMeta & nebula.NebulaMeta.$Shape} NebulaMeta
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        NebulaMeta.decode = function (reader, length, _end, _depth, _target) {
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
            message = _target || new $root.nebula.NebulaMeta();
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
                        if (wireType !== 0)
                            break;
                        if (value = reader.int32())
                            message.type = value;
                        else
                            delete message.type;
                        continue;
                    }
                case 2: {
                        if (wireType !== 2)
                            break;
                        message.details = $root.nebula.NebulaMetaDetails.decode(reader, reader.size(), $undefined, _depth + 1, message.details);
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

        /**
         * MessageType enum.
         * @name nebula.NebulaMeta.MessageType
         * @enum {number}
         * @property {number} None=0 None value
         * @property {number} HostQuery=1 HostQuery value
         * @property {number} HostQueryReply=2 HostQueryReply value
         * @property {number} HostUpdateNotification=3 HostUpdateNotification value
         * @property {number} HostMovedNotification=4 HostMovedNotification value
         * @property {number} HostPunchNotification=5 HostPunchNotification value
         * @property {number} HostWhoami=6 HostWhoami value
         * @property {number} HostWhoamiReply=7 HostWhoamiReply value
         * @property {number} PathCheck=8 PathCheck value
         * @property {number} PathCheckReply=9 PathCheckReply value
         * @property {number} HostUpdateNotificationAck=10 HostUpdateNotificationAck value
         * @property {number} MeshSubnetQuery=100 node → lighthouse: which host routes Details.VpnIp (an address in some certificate's subnets)?
         * @property {number} MeshSubnetReply=101 lighthouse → node: Details.VpnIp owns MeshSubnets (from its certificate), reachable at Ip4AndPorts.
         * @property {number} MeshNameQuery=103 node → lighthouse: MeshNames[0].Name, please.
         * @property {number} MeshNameReply=104 lighthouse → node: MeshNames with the addresses known for the name (none: unknown).
         * @property {number} MeshNamesDelta=105 node → lighthouse: names whose addresses changed (all of a name's current addresses; none:
         * the name is gone), one chunk of the change that took the node's name table to
         * MeshNameTable.Version.
         * @property {number} MeshNamesSnapshot=106 node → lighthouse: chunk MeshNameTable.Chunk of MeshNameTable.Chunks of the whole table at Version.
         * @property {number} MeshNamesCheck=107 node → lighthouse, every lighthouse.interval: my table is at MeshNameTable.Epoch/Version.
         * @property {number} MeshNamesResync=108 lighthouse → node: my copy of your table is not at the version you announced; send a snapshot.
         * @property {number} MeshRevocations=109 holder of pki.revocations (a lighthouse, usually) → any host: MeshRevocationList, a
         * CA-signed revocation list (pki/revocation.ts). Sent to nodes too: Nebula 1.6 nodes ignore
         * meta types they do not know.
         * @property {number} MeshTunnelsReport=110 node → lighthouse, with each HostUpdateNotification: its tunnels (MeshTunnels, MeshTunnelsTotal), for the map.
         */
        NebulaMeta.MessageType = (function() {
            const valuesById = $Object.create(null), values = $Object.create(valuesById);
            values[valuesById[0] = "None"] = 0;
            values[valuesById[1] = "HostQuery"] = 1;
            values[valuesById[2] = "HostQueryReply"] = 2;
            values[valuesById[3] = "HostUpdateNotification"] = 3;
            values[valuesById[4] = "HostMovedNotification"] = 4;
            values[valuesById[5] = "HostPunchNotification"] = 5;
            values[valuesById[6] = "HostWhoami"] = 6;
            values[valuesById[7] = "HostWhoamiReply"] = 7;
            values[valuesById[8] = "PathCheck"] = 8;
            values[valuesById[9] = "PathCheckReply"] = 9;
            values[valuesById[10] = "HostUpdateNotificationAck"] = 10;
            values[valuesById[100] = "MeshSubnetQuery"] = 100;
            values[valuesById[101] = "MeshSubnetReply"] = 101;
            values[valuesById[103] = "MeshNameQuery"] = 103;
            values[valuesById[104] = "MeshNameReply"] = 104;
            values[valuesById[105] = "MeshNamesDelta"] = 105;
            values[valuesById[106] = "MeshNamesSnapshot"] = 106;
            values[valuesById[107] = "MeshNamesCheck"] = 107;
            values[valuesById[108] = "MeshNamesResync"] = 108;
            values[valuesById[109] = "MeshRevocations"] = 109;
            values[valuesById[110] = "MeshTunnelsReport"] = 110;
            return values;
        })();

        return NebulaMeta;
    })();

    nebula.NebulaMetaDetails = (function() {

        /**
         * Properties of a NebulaMetaDetails.
         * @typedef {Object} nebula.NebulaMetaDetails.$Properties
         * @property {number|null} [vpnIp] NebulaMetaDetails vpnIp
         * @property {Array.<nebula.Ip4AndPort.$Properties>|null} [ip4AndPorts] NebulaMetaDetails ip4AndPorts
         * @property {number|null} [counter] NebulaMetaDetails counter
         * @property {Array.<nebula.Ip6AndPort.$Properties>|null} [ip6AndPorts] NebulaMetaDetails ip6AndPorts
         * @property {Array.<number>|null} [relayVpnIps] NebulaMetaDetails relayVpnIps
         * @property {nebula.Addr.$Properties|null} [vpnAddr] NebulaMetaDetails vpnAddr
         * @property {Array.<nebula.Addr.$Properties>|null} [relayVpnAddrs] NebulaMetaDetails relayVpnAddrs
         * @property {Array.<nebula.MeshSubnet.$Properties>|null} [meshSubnets] NebulaMetaDetails meshSubnets
         * @property {Array.<nebula.MeshName.$Properties>|null} [meshNames] NebulaMetaDetails meshNames
         * @property {nebula.MeshNameTable.$Properties|null} [meshNameTable] NebulaMetaDetails meshNameTable
         * @property {Uint8Array|null} [meshRevocationList] NebulaMetaDetails meshRevocationList
         * @property {Array.<nebula.MeshTunnel.$Properties>|null} [meshTunnels] NebulaMetaDetails meshTunnels
         * @property {number|null} [meshTunnelsTotal] NebulaMetaDetails meshTunnelsTotal
         * @property {number|null} [meshNatMapping] NebulaMetaDetails meshNatMapping
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of a NebulaMetaDetails.
         * @memberof nebula
         * @interface INebulaMetaDetails
         * @augments nebula.NebulaMetaDetails.$Properties
         * @deprecated Use nebula.NebulaMetaDetails.$Properties instead.
         */

        /**
         * Shape of a NebulaMetaDetails.
         * @typedef {nebula.NebulaMetaDetails.$Properties} nebula.NebulaMetaDetails.$Shape
         */

        /**
         * Constructs a new NebulaMetaDetails.
         * @memberof nebula
         * @classdesc Represents a NebulaMetaDetails.
         * @constructor
         * @param {nebula.NebulaMetaDetails.$Properties=} [properties] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        const NebulaMetaDetails = function (properties) {
            this.ip4AndPorts = [];
            this.ip6AndPorts = [];
            this.relayVpnIps = [];
            this.relayVpnAddrs = [];
            this.meshSubnets = [];
            this.meshNames = [];
            this.meshTunnels = [];
            if (properties)
                for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                    if (properties[keys[i]] != null && keys[i] !== "__proto__")
                        this[keys[i]] = properties[keys[i]];
        };

        /**
         * NebulaMetaDetails vpnIp.
         * @member {number} vpnIp
         * @memberof nebula.NebulaMetaDetails
         * @instance
         */
        NebulaMetaDetails.prototype.vpnIp = 0;

        /**
         * NebulaMetaDetails ip4AndPorts.
         * @member {Array.<nebula.Ip4AndPort.$Properties>} ip4AndPorts
         * @memberof nebula.NebulaMetaDetails
         * @instance
         */
        NebulaMetaDetails.prototype.ip4AndPorts = $util.emptyArray;

        /**
         * NebulaMetaDetails counter.
         * @member {number} counter
         * @memberof nebula.NebulaMetaDetails
         * @instance
         */
        NebulaMetaDetails.prototype.counter = 0;

        /**
         * NebulaMetaDetails ip6AndPorts.
         * @member {Array.<nebula.Ip6AndPort.$Properties>} ip6AndPorts
         * @memberof nebula.NebulaMetaDetails
         * @instance
         */
        NebulaMetaDetails.prototype.ip6AndPorts = $util.emptyArray;

        /**
         * NebulaMetaDetails relayVpnIps.
         * @member {Array.<number>} relayVpnIps
         * @memberof nebula.NebulaMetaDetails
         * @instance
         */
        NebulaMetaDetails.prototype.relayVpnIps = $util.emptyArray;

        /**
         * NebulaMetaDetails vpnAddr.
         * @member {nebula.Addr.$Properties|null|undefined} vpnAddr
         * @memberof nebula.NebulaMetaDetails
         * @instance
         */
        NebulaMetaDetails.prototype.vpnAddr = null;

        /**
         * NebulaMetaDetails relayVpnAddrs.
         * @member {Array.<nebula.Addr.$Properties>} relayVpnAddrs
         * @memberof nebula.NebulaMetaDetails
         * @instance
         */
        NebulaMetaDetails.prototype.relayVpnAddrs = $util.emptyArray;

        /**
         * NebulaMetaDetails meshSubnets.
         * @member {Array.<nebula.MeshSubnet.$Properties>} meshSubnets
         * @memberof nebula.NebulaMetaDetails
         * @instance
         */
        NebulaMetaDetails.prototype.meshSubnets = $util.emptyArray;

        /**
         * NebulaMetaDetails meshNames.
         * @member {Array.<nebula.MeshName.$Properties>} meshNames
         * @memberof nebula.NebulaMetaDetails
         * @instance
         */
        NebulaMetaDetails.prototype.meshNames = $util.emptyArray;

        /**
         * NebulaMetaDetails meshNameTable.
         * @member {nebula.MeshNameTable.$Properties|null|undefined} meshNameTable
         * @memberof nebula.NebulaMetaDetails
         * @instance
         */
        NebulaMetaDetails.prototype.meshNameTable = null;

        /**
         * NebulaMetaDetails meshRevocationList.
         * @member {Uint8Array} meshRevocationList
         * @memberof nebula.NebulaMetaDetails
         * @instance
         */
        NebulaMetaDetails.prototype.meshRevocationList = $util.newBuffer([]);

        /**
         * NebulaMetaDetails meshTunnels.
         * @member {Array.<nebula.MeshTunnel.$Properties>} meshTunnels
         * @memberof nebula.NebulaMetaDetails
         * @instance
         */
        NebulaMetaDetails.prototype.meshTunnels = $util.emptyArray;

        /**
         * NebulaMetaDetails meshTunnelsTotal.
         * @member {number} meshTunnelsTotal
         * @memberof nebula.NebulaMetaDetails
         * @instance
         */
        NebulaMetaDetails.prototype.meshTunnelsTotal = 0;

        /**
         * NebulaMetaDetails meshNatMapping.
         * @member {number} meshNatMapping
         * @memberof nebula.NebulaMetaDetails
         * @instance
         */
        NebulaMetaDetails.prototype.meshNatMapping = 0;

        /**
         * Encodes the specified NebulaMetaDetails message. Does not implicitly {@link nebula.NebulaMetaDetails.verify|verify} messages.
         * @function encode
         * @memberof nebula.NebulaMetaDetails
         * @static
         * @param {nebula.NebulaMetaDetails.$Properties} message NebulaMetaDetails message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        NebulaMetaDetails.encode = function (message, writer, _depth) {
            if (!writer)
                writer = $Writer.create();
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (message.vpnIp != null && $Object.hasOwnProperty.call(message, "vpnIp") && message.vpnIp !== 0)
                writer.uint32(/* id 1, wireType 0 =*/8).uint32(message.vpnIp);
            if (message.ip4AndPorts != null && message.ip4AndPorts.length)
                for (let i = 0; i < message.ip4AndPorts.length; ++i)
                    $root.nebula.Ip4AndPort.encode(message.ip4AndPorts[i], writer.uint32(/* id 2, wireType 2 =*/18).fork(), _depth + 1).ldelim();
            if (message.counter != null && $Object.hasOwnProperty.call(message, "counter") && message.counter !== 0)
                writer.uint32(/* id 3, wireType 0 =*/24).uint32(message.counter);
            if (message.ip6AndPorts != null && message.ip6AndPorts.length)
                for (let i = 0; i < message.ip6AndPorts.length; ++i)
                    $root.nebula.Ip6AndPort.encode(message.ip6AndPorts[i], writer.uint32(/* id 4, wireType 2 =*/34).fork(), _depth + 1).ldelim();
            if (message.relayVpnIps != null && message.relayVpnIps.length)
                writer.uint32(/* id 5, wireType 2 =*/42).uint32s(message.relayVpnIps);
            if (message.vpnAddr != null && $Object.hasOwnProperty.call(message, "vpnAddr"))
                $root.nebula.Addr.encode(message.vpnAddr, writer.uint32(/* id 6, wireType 2 =*/50).fork(), _depth + 1).ldelim();
            if (message.relayVpnAddrs != null && message.relayVpnAddrs.length)
                for (let i = 0; i < message.relayVpnAddrs.length; ++i)
                    $root.nebula.Addr.encode(message.relayVpnAddrs[i], writer.uint32(/* id 7, wireType 2 =*/58).fork(), _depth + 1).ldelim();
            if (message.meshSubnets != null && message.meshSubnets.length)
                for (let i = 0; i < message.meshSubnets.length; ++i)
                    $root.nebula.MeshSubnet.encode(message.meshSubnets[i], writer.uint32(/* id 100, wireType 2 =*/802).fork(), _depth + 1).ldelim();
            if (message.meshNames != null && message.meshNames.length)
                for (let i = 0; i < message.meshNames.length; ++i)
                    $root.nebula.MeshName.encode(message.meshNames[i], writer.uint32(/* id 101, wireType 2 =*/810).fork(), _depth + 1).ldelim();
            if (message.meshNameTable != null && $Object.hasOwnProperty.call(message, "meshNameTable"))
                $root.nebula.MeshNameTable.encode(message.meshNameTable, writer.uint32(/* id 102, wireType 2 =*/818).fork(), _depth + 1).ldelim();
            if (message.meshRevocationList != null && $Object.hasOwnProperty.call(message, "meshRevocationList") && message.meshRevocationList.length)
                writer.uint32(/* id 103, wireType 2 =*/826).bytes(message.meshRevocationList);
            if (message.meshTunnels != null && message.meshTunnels.length)
                for (let i = 0; i < message.meshTunnels.length; ++i)
                    $root.nebula.MeshTunnel.encode(message.meshTunnels[i], writer.uint32(/* id 104, wireType 2 =*/834).fork(), _depth + 1).ldelim();
            if (message.meshTunnelsTotal != null && $Object.hasOwnProperty.call(message, "meshTunnelsTotal") && message.meshTunnelsTotal !== 0)
                writer.uint32(/* id 105, wireType 0 =*/840).uint32(message.meshTunnelsTotal);
            if (message.meshNatMapping != null && $Object.hasOwnProperty.call(message, "meshNatMapping") && message.meshNatMapping !== 0)
                writer.uint32(/* id 106, wireType 0 =*/848).uint32(message.meshNatMapping);
            if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                for (let i = 0; i < message.$unknowns.length; ++i)
                    writer.raw(message.$unknowns[i]);
            return writer;
        };

        /**
         * Decodes a NebulaMetaDetails message from the specified reader or buffer.
         * @function decode
         * @memberof nebula.NebulaMetaDetails
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @param {number} [length] Message length if known beforehand
         * @returns {nebula.NebulaMetaDetails & nebula.NebulaMetaDetails.$Shape} NebulaMetaDetails
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        NebulaMetaDetails.decode = function (reader, length, _end, _depth, _target) {
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
            message = _target || new $root.nebula.NebulaMetaDetails();
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
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.vpnIp = value;
                        else
                            delete message.vpnIp;
                        continue;
                    }
                case 2: {
                        if (wireType !== 2)
                            break;
                        if (!(message.ip4AndPorts && message.ip4AndPorts.length))
                            message.ip4AndPorts = [];
                        message.ip4AndPorts.push($root.nebula.Ip4AndPort.decode(reader, reader.size(), $undefined, _depth + 1));
                        continue;
                    }
                case 3: {
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.counter = value;
                        else
                            delete message.counter;
                        continue;
                    }
                case 4: {
                        if (wireType !== 2)
                            break;
                        if (!(message.ip6AndPorts && message.ip6AndPorts.length))
                            message.ip6AndPorts = [];
                        message.ip6AndPorts.push($root.nebula.Ip6AndPort.decode(reader, reader.size(), $undefined, _depth + 1));
                        continue;
                    }
                case 5: {
                        if (wireType === 2) {
                            if (!(message.relayVpnIps && message.relayVpnIps.length))
                                message.relayVpnIps = [];
                            reader.uint32s(message.relayVpnIps);
                            continue;
                        }
                        if (wireType !== 0)
                            break;
                        if (!(message.relayVpnIps && message.relayVpnIps.length))
                            message.relayVpnIps = [];
                        message.relayVpnIps.push(reader.uint32());
                        continue;
                    }
                case 6: {
                        if (wireType !== 2)
                            break;
                        message.vpnAddr = $root.nebula.Addr.decode(reader, reader.size(), $undefined, _depth + 1, message.vpnAddr);
                        continue;
                    }
                case 7: {
                        if (wireType !== 2)
                            break;
                        if (!(message.relayVpnAddrs && message.relayVpnAddrs.length))
                            message.relayVpnAddrs = [];
                        message.relayVpnAddrs.push($root.nebula.Addr.decode(reader, reader.size(), $undefined, _depth + 1));
                        continue;
                    }
                case 100: {
                        if (wireType !== 2)
                            break;
                        if (!(message.meshSubnets && message.meshSubnets.length))
                            message.meshSubnets = [];
                        message.meshSubnets.push($root.nebula.MeshSubnet.decode(reader, reader.size(), $undefined, _depth + 1));
                        continue;
                    }
                case 101: {
                        if (wireType !== 2)
                            break;
                        if (!(message.meshNames && message.meshNames.length))
                            message.meshNames = [];
                        message.meshNames.push($root.nebula.MeshName.decode(reader, reader.size(), $undefined, _depth + 1));
                        continue;
                    }
                case 102: {
                        if (wireType !== 2)
                            break;
                        message.meshNameTable = $root.nebula.MeshNameTable.decode(reader, reader.size(), $undefined, _depth + 1, message.meshNameTable);
                        continue;
                    }
                case 103: {
                        if (wireType !== 2)
                            break;
                        if ((value = reader.bytes()).length)
                            message.meshRevocationList = value;
                        else
                            delete message.meshRevocationList;
                        continue;
                    }
                case 104: {
                        if (wireType !== 2)
                            break;
                        if (!(message.meshTunnels && message.meshTunnels.length))
                            message.meshTunnels = [];
                        message.meshTunnels.push($root.nebula.MeshTunnel.decode(reader, reader.size(), $undefined, _depth + 1));
                        continue;
                    }
                case 105: {
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.meshTunnelsTotal = value;
                        else
                            delete message.meshTunnelsTotal;
                        continue;
                    }
                case 106: {
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.meshNatMapping = value;
                        else
                            delete message.meshNatMapping;
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

        return NebulaMetaDetails;
    })();

    nebula.MeshTunnel = (function() {

        /**
         * Properties of a MeshTunnel.
         * @typedef {Object} nebula.MeshTunnel.$Properties
         * @property {number|null} [peerIp] MeshTunnel peerIp
         * @property {number|null} [relayIp] MeshTunnel relayIp
         * @property {number|null} [rttMicros] MeshTunnel rttMicros
         * @property {number|null} [ageSeconds] MeshTunnel ageSeconds
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of a MeshTunnel.
         * @memberof nebula
         * @interface IMeshTunnel
         * @augments nebula.MeshTunnel.$Properties
         * @deprecated Use nebula.MeshTunnel.$Properties instead.
         */

        /**
         * Shape of a MeshTunnel.
         * @typedef {nebula.MeshTunnel.$Properties} nebula.MeshTunnel.$Shape
         */

        /**
         * Constructs a new MeshTunnel.
         * @memberof nebula
         * @classdesc Represents a MeshTunnel.
         * @constructor
         * @param {nebula.MeshTunnel.$Properties=} [properties] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        const MeshTunnel = function (properties) {
            if (properties)
                for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                    if (properties[keys[i]] != null && keys[i] !== "__proto__")
                        this[keys[i]] = properties[keys[i]];
        };

        /**
         * MeshTunnel peerIp.
         * @member {number} peerIp
         * @memberof nebula.MeshTunnel
         * @instance
         */
        MeshTunnel.prototype.peerIp = 0;

        /**
         * MeshTunnel relayIp.
         * @member {number} relayIp
         * @memberof nebula.MeshTunnel
         * @instance
         */
        MeshTunnel.prototype.relayIp = 0;

        /**
         * MeshTunnel rttMicros.
         * @member {number} rttMicros
         * @memberof nebula.MeshTunnel
         * @instance
         */
        MeshTunnel.prototype.rttMicros = 0;

        /**
         * MeshTunnel ageSeconds.
         * @member {number} ageSeconds
         * @memberof nebula.MeshTunnel
         * @instance
         */
        MeshTunnel.prototype.ageSeconds = 0;

        /**
         * Encodes the specified MeshTunnel message. Does not implicitly {@link nebula.MeshTunnel.verify|verify} messages.
         * @function encode
         * @memberof nebula.MeshTunnel
         * @static
         * @param {nebula.MeshTunnel.$Properties} message MeshTunnel message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        MeshTunnel.encode = function (message, writer, _depth) {
            if (!writer)
                writer = $Writer.create();
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (message.peerIp != null && $Object.hasOwnProperty.call(message, "peerIp") && message.peerIp !== 0)
                writer.uint32(/* id 1, wireType 0 =*/8).uint32(message.peerIp);
            if (message.relayIp != null && $Object.hasOwnProperty.call(message, "relayIp") && message.relayIp !== 0)
                writer.uint32(/* id 2, wireType 0 =*/16).uint32(message.relayIp);
            if (message.rttMicros != null && $Object.hasOwnProperty.call(message, "rttMicros") && message.rttMicros !== 0)
                writer.uint32(/* id 3, wireType 0 =*/24).uint32(message.rttMicros);
            if (message.ageSeconds != null && $Object.hasOwnProperty.call(message, "ageSeconds") && message.ageSeconds !== 0)
                writer.uint32(/* id 4, wireType 0 =*/32).uint32(message.ageSeconds);
            if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                for (let i = 0; i < message.$unknowns.length; ++i)
                    writer.raw(message.$unknowns[i]);
            return writer;
        };

        /**
         * Decodes a MeshTunnel message from the specified reader or buffer.
         * @function decode
         * @memberof nebula.MeshTunnel
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @param {number} [length] Message length if known beforehand
         * @returns {nebula.MeshTunnel & nebula.MeshTunnel.$Shape} MeshTunnel
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        MeshTunnel.decode = function (reader, length, _end, _depth, _target) {
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
            message = _target || new $root.nebula.MeshTunnel();
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
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.peerIp = value;
                        else
                            delete message.peerIp;
                        continue;
                    }
                case 2: {
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.relayIp = value;
                        else
                            delete message.relayIp;
                        continue;
                    }
                case 3: {
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.rttMicros = value;
                        else
                            delete message.rttMicros;
                        continue;
                    }
                case 4: {
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.ageSeconds = value;
                        else
                            delete message.ageSeconds;
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

        return MeshTunnel;
    })();

    nebula.MeshSubnet = (function() {

        /**
         * Properties of a MeshSubnet.
         * @typedef {Object} nebula.MeshSubnet.$Properties
         * @property {number|null} [ip] MeshSubnet ip
         * @property {number|null} [bits] MeshSubnet bits
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of a MeshSubnet.
         * @memberof nebula
         * @interface IMeshSubnet
         * @augments nebula.MeshSubnet.$Properties
         * @deprecated Use nebula.MeshSubnet.$Properties instead.
         */

        /**
         * Shape of a MeshSubnet.
         * @typedef {nebula.MeshSubnet.$Properties} nebula.MeshSubnet.$Shape
         */

        /**
         * Constructs a new MeshSubnet.
         * @memberof nebula
         * @classdesc Represents a MeshSubnet.
         * @constructor
         * @param {nebula.MeshSubnet.$Properties=} [properties] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        const MeshSubnet = function (properties) {
            if (properties)
                for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                    if (properties[keys[i]] != null && keys[i] !== "__proto__")
                        this[keys[i]] = properties[keys[i]];
        };

        /**
         * MeshSubnet ip.
         * @member {number} ip
         * @memberof nebula.MeshSubnet
         * @instance
         */
        MeshSubnet.prototype.ip = 0;

        /**
         * MeshSubnet bits.
         * @member {number} bits
         * @memberof nebula.MeshSubnet
         * @instance
         */
        MeshSubnet.prototype.bits = 0;

        /**
         * Encodes the specified MeshSubnet message. Does not implicitly {@link nebula.MeshSubnet.verify|verify} messages.
         * @function encode
         * @memberof nebula.MeshSubnet
         * @static
         * @param {nebula.MeshSubnet.$Properties} message MeshSubnet message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        MeshSubnet.encode = function (message, writer, _depth) {
            if (!writer)
                writer = $Writer.create();
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (message.ip != null && $Object.hasOwnProperty.call(message, "ip") && message.ip !== 0)
                writer.uint32(/* id 1, wireType 0 =*/8).uint32(message.ip);
            if (message.bits != null && $Object.hasOwnProperty.call(message, "bits") && message.bits !== 0)
                writer.uint32(/* id 2, wireType 0 =*/16).uint32(message.bits);
            if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                for (let i = 0; i < message.$unknowns.length; ++i)
                    writer.raw(message.$unknowns[i]);
            return writer;
        };

        /**
         * Decodes a MeshSubnet message from the specified reader or buffer.
         * @function decode
         * @memberof nebula.MeshSubnet
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @param {number} [length] Message length if known beforehand
         * @returns {nebula.MeshSubnet & nebula.MeshSubnet.$Shape} MeshSubnet
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        MeshSubnet.decode = function (reader, length, _end, _depth, _target) {
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
            message = _target || new $root.nebula.MeshSubnet();
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
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.ip = value;
                        else
                            delete message.ip;
                        continue;
                    }
                case 2: {
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.bits = value;
                        else
                            delete message.bits;
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

        return MeshSubnet;
    })();

    nebula.MeshName = (function() {

        /**
         * Properties of a MeshName.
         * @typedef {Object} nebula.MeshName.$Properties
         * @property {string|null} [name] MeshName name
         * @property {Array.<number>|null} [ips] MeshName ips
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of a MeshName.
         * @memberof nebula
         * @interface IMeshName
         * @augments nebula.MeshName.$Properties
         * @deprecated Use nebula.MeshName.$Properties instead.
         */

        /**
         * Shape of a MeshName.
         * @typedef {nebula.MeshName.$Properties} nebula.MeshName.$Shape
         */

        /**
         * Constructs a new MeshName.
         * @memberof nebula
         * @classdesc Represents a MeshName.
         * @constructor
         * @param {nebula.MeshName.$Properties=} [properties] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        const MeshName = function (properties) {
            this.ips = [];
            if (properties)
                for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                    if (properties[keys[i]] != null && keys[i] !== "__proto__")
                        this[keys[i]] = properties[keys[i]];
        };

        /**
         * MeshName name.
         * @member {string} name
         * @memberof nebula.MeshName
         * @instance
         */
        MeshName.prototype.name = "";

        /**
         * MeshName ips.
         * @member {Array.<number>} ips
         * @memberof nebula.MeshName
         * @instance
         */
        MeshName.prototype.ips = $util.emptyArray;

        /**
         * Encodes the specified MeshName message. Does not implicitly {@link nebula.MeshName.verify|verify} messages.
         * @function encode
         * @memberof nebula.MeshName
         * @static
         * @param {nebula.MeshName.$Properties} message MeshName message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        MeshName.encode = function (message, writer, _depth) {
            if (!writer)
                writer = $Writer.create();
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (message.name != null && $Object.hasOwnProperty.call(message, "name") && message.name !== "")
                writer.uint32(/* id 1, wireType 2 =*/10).string(message.name);
            if (message.ips != null && message.ips.length)
                writer.uint32(/* id 2, wireType 2 =*/18).uint32s(message.ips);
            if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                for (let i = 0; i < message.$unknowns.length; ++i)
                    writer.raw(message.$unknowns[i]);
            return writer;
        };

        /**
         * Decodes a MeshName message from the specified reader or buffer.
         * @function decode
         * @memberof nebula.MeshName
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @param {number} [length] Message length if known beforehand
         * @returns {nebula.MeshName & nebula.MeshName.$Shape} MeshName
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        MeshName.decode = function (reader, length, _end, _depth, _target) {
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
            message = _target || new $root.nebula.MeshName();
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
                            message.name = value;
                        else
                            delete message.name;
                        continue;
                    }
                case 2: {
                        if (wireType === 2) {
                            if (!(message.ips && message.ips.length))
                                message.ips = [];
                            reader.uint32s(message.ips);
                            continue;
                        }
                        if (wireType !== 0)
                            break;
                        if (!(message.ips && message.ips.length))
                            message.ips = [];
                        message.ips.push(reader.uint32());
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

        return MeshName;
    })();

    nebula.MeshNameTable = (function() {

        /**
         * Properties of a MeshNameTable.
         * @typedef {Object} nebula.MeshNameTable.$Properties
         * @property {number|null} [epoch] MeshNameTable epoch
         * @property {number|null} [version] MeshNameTable version
         * @property {number|null} [chunk] MeshNameTable chunk
         * @property {number|null} [chunks] MeshNameTable chunks
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of a MeshNameTable.
         * @memberof nebula
         * @interface IMeshNameTable
         * @augments nebula.MeshNameTable.$Properties
         * @deprecated Use nebula.MeshNameTable.$Properties instead.
         */

        /**
         * Shape of a MeshNameTable.
         * @typedef {nebula.MeshNameTable.$Properties} nebula.MeshNameTable.$Shape
         */

        /**
         * Constructs a new MeshNameTable.
         * @memberof nebula
         * @classdesc Represents a MeshNameTable.
         * @constructor
         * @param {nebula.MeshNameTable.$Properties=} [properties] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        const MeshNameTable = function (properties) {
            if (properties)
                for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                    if (properties[keys[i]] != null && keys[i] !== "__proto__")
                        this[keys[i]] = properties[keys[i]];
        };

        /**
         * MeshNameTable epoch.
         * @member {number} epoch
         * @memberof nebula.MeshNameTable
         * @instance
         */
        MeshNameTable.prototype.epoch = 0;

        /**
         * MeshNameTable version.
         * @member {number} version
         * @memberof nebula.MeshNameTable
         * @instance
         */
        MeshNameTable.prototype.version = 0;

        /**
         * MeshNameTable chunk.
         * @member {number} chunk
         * @memberof nebula.MeshNameTable
         * @instance
         */
        MeshNameTable.prototype.chunk = 0;

        /**
         * MeshNameTable chunks.
         * @member {number} chunks
         * @memberof nebula.MeshNameTable
         * @instance
         */
        MeshNameTable.prototype.chunks = 0;

        /**
         * Encodes the specified MeshNameTable message. Does not implicitly {@link nebula.MeshNameTable.verify|verify} messages.
         * @function encode
         * @memberof nebula.MeshNameTable
         * @static
         * @param {nebula.MeshNameTable.$Properties} message MeshNameTable message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        MeshNameTable.encode = function (message, writer, _depth) {
            if (!writer)
                writer = $Writer.create();
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (message.epoch != null && $Object.hasOwnProperty.call(message, "epoch") && message.epoch !== 0)
                writer.uint32(/* id 1, wireType 0 =*/8).uint32(message.epoch);
            if (message.version != null && $Object.hasOwnProperty.call(message, "version") && message.version !== 0)
                writer.uint32(/* id 2, wireType 0 =*/16).uint32(message.version);
            if (message.chunk != null && $Object.hasOwnProperty.call(message, "chunk") && message.chunk !== 0)
                writer.uint32(/* id 3, wireType 0 =*/24).uint32(message.chunk);
            if (message.chunks != null && $Object.hasOwnProperty.call(message, "chunks") && message.chunks !== 0)
                writer.uint32(/* id 4, wireType 0 =*/32).uint32(message.chunks);
            if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                for (let i = 0; i < message.$unknowns.length; ++i)
                    writer.raw(message.$unknowns[i]);
            return writer;
        };

        /**
         * Decodes a MeshNameTable message from the specified reader or buffer.
         * @function decode
         * @memberof nebula.MeshNameTable
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @param {number} [length] Message length if known beforehand
         * @returns {nebula.MeshNameTable & nebula.MeshNameTable.$Shape} MeshNameTable
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        MeshNameTable.decode = function (reader, length, _end, _depth, _target) {
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
            message = _target || new $root.nebula.MeshNameTable();
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
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.epoch = value;
                        else
                            delete message.epoch;
                        continue;
                    }
                case 2: {
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.version = value;
                        else
                            delete message.version;
                        continue;
                    }
                case 3: {
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.chunk = value;
                        else
                            delete message.chunk;
                        continue;
                    }
                case 4: {
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.chunks = value;
                        else
                            delete message.chunks;
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

        return MeshNameTable;
    })();

    nebula.Addr = (function() {

        /**
         * Properties of an Addr.
         * @typedef {Object} nebula.Addr.$Properties
         * @property {number|Long|null} [hi] Addr hi
         * @property {number|Long|null} [lo] Addr lo
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of an Addr.
         * @memberof nebula
         * @interface IAddr
         * @augments nebula.Addr.$Properties
         * @deprecated Use nebula.Addr.$Properties instead.
         */

        /**
         * Shape of an Addr.
         * @typedef {nebula.Addr.$Properties} nebula.Addr.$Shape
         */

        /**
         * Constructs a new Addr.
         * @memberof nebula
         * @classdesc Represents an Addr.
         * @constructor
         * @param {nebula.Addr.$Properties=} [properties] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        const Addr = function (properties) {
            if (properties)
                for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                    if (properties[keys[i]] != null && keys[i] !== "__proto__")
                        this[keys[i]] = properties[keys[i]];
        };

        /**
         * Addr hi.
         * @member {number|Long} hi
         * @memberof nebula.Addr
         * @instance
         */
        Addr.prototype.hi = $util.Long ? $util.Long.fromBits(0,0,true) : 0;

        /**
         * Addr lo.
         * @member {number|Long} lo
         * @memberof nebula.Addr
         * @instance
         */
        Addr.prototype.lo = $util.Long ? $util.Long.fromBits(0,0,true) : 0;

        /**
         * Encodes the specified Addr message. Does not implicitly {@link nebula.Addr.verify|verify} messages.
         * @function encode
         * @memberof nebula.Addr
         * @static
         * @param {nebula.Addr.$Properties} message Addr message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        Addr.encode = function (message, writer, _depth) {
            if (!writer)
                writer = $Writer.create();
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (message.hi != null && $Object.hasOwnProperty.call(message, "hi") && (typeof message.hi === "object" ? message.hi.low || message.hi.high : message.hi !== 0))
                writer.uint32(/* id 1, wireType 0 =*/8).uint64(message.hi);
            if (message.lo != null && $Object.hasOwnProperty.call(message, "lo") && (typeof message.lo === "object" ? message.lo.low || message.lo.high : message.lo !== 0))
                writer.uint32(/* id 2, wireType 0 =*/16).uint64(message.lo);
            if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                for (let i = 0; i < message.$unknowns.length; ++i)
                    writer.raw(message.$unknowns[i]);
            return writer;
        };

        /**
         * Decodes an Addr message from the specified reader or buffer.
         * @function decode
         * @memberof nebula.Addr
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @param {number} [length] Message length if known beforehand
         * @returns {nebula.Addr & nebula.Addr.$Shape} Addr
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        Addr.decode = function (reader, length, _end, _depth, _target) {
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
            message = _target || new $root.nebula.Addr();
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
                        if (wireType !== 0)
                            break;
                        if (typeof (value = reader.uint64()) === "object" ? value.low || value.high : value !== 0)
                            message.hi = value;
                        else
                            delete message.hi;
                        continue;
                    }
                case 2: {
                        if (wireType !== 0)
                            break;
                        if (typeof (value = reader.uint64()) === "object" ? value.low || value.high : value !== 0)
                            message.lo = value;
                        else
                            delete message.lo;
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

        return Addr;
    })();

    nebula.Ip4AndPort = (function() {

        /**
         * Properties of an Ip4AndPort.
         * @typedef {Object} nebula.Ip4AndPort.$Properties
         * @property {number|null} [ip] Ip4AndPort ip
         * @property {number|null} [port] Ip4AndPort port
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of an Ip4AndPort.
         * @memberof nebula
         * @interface IIp4AndPort
         * @augments nebula.Ip4AndPort.$Properties
         * @deprecated Use nebula.Ip4AndPort.$Properties instead.
         */

        /**
         * Shape of an Ip4AndPort.
         * @typedef {nebula.Ip4AndPort.$Properties} nebula.Ip4AndPort.$Shape
         */

        /**
         * Constructs a new Ip4AndPort.
         * @memberof nebula
         * @classdesc Represents an Ip4AndPort.
         * @constructor
         * @param {nebula.Ip4AndPort.$Properties=} [properties] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        const Ip4AndPort = function (properties) {
            if (properties)
                for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                    if (properties[keys[i]] != null && keys[i] !== "__proto__")
                        this[keys[i]] = properties[keys[i]];
        };

        /**
         * Ip4AndPort ip.
         * @member {number} ip
         * @memberof nebula.Ip4AndPort
         * @instance
         */
        Ip4AndPort.prototype.ip = 0;

        /**
         * Ip4AndPort port.
         * @member {number} port
         * @memberof nebula.Ip4AndPort
         * @instance
         */
        Ip4AndPort.prototype.port = 0;

        /**
         * Encodes the specified Ip4AndPort message. Does not implicitly {@link nebula.Ip4AndPort.verify|verify} messages.
         * @function encode
         * @memberof nebula.Ip4AndPort
         * @static
         * @param {nebula.Ip4AndPort.$Properties} message Ip4AndPort message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        Ip4AndPort.encode = function (message, writer, _depth) {
            if (!writer)
                writer = $Writer.create();
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (message.ip != null && $Object.hasOwnProperty.call(message, "ip") && message.ip !== 0)
                writer.uint32(/* id 1, wireType 0 =*/8).uint32(message.ip);
            if (message.port != null && $Object.hasOwnProperty.call(message, "port") && message.port !== 0)
                writer.uint32(/* id 2, wireType 0 =*/16).uint32(message.port);
            if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                for (let i = 0; i < message.$unknowns.length; ++i)
                    writer.raw(message.$unknowns[i]);
            return writer;
        };

        /**
         * Decodes an Ip4AndPort message from the specified reader or buffer.
         * @function decode
         * @memberof nebula.Ip4AndPort
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @param {number} [length] Message length if known beforehand
         * @returns {nebula.Ip4AndPort & nebula.Ip4AndPort.$Shape} Ip4AndPort
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        Ip4AndPort.decode = function (reader, length, _end, _depth, _target) {
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
            message = _target || new $root.nebula.Ip4AndPort();
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
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.ip = value;
                        else
                            delete message.ip;
                        continue;
                    }
                case 2: {
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.port = value;
                        else
                            delete message.port;
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

        return Ip4AndPort;
    })();

    nebula.Ip6AndPort = (function() {

        /**
         * Properties of an Ip6AndPort.
         * @typedef {Object} nebula.Ip6AndPort.$Properties
         * @property {number|Long|null} [hi] Ip6AndPort hi
         * @property {number|Long|null} [lo] Ip6AndPort lo
         * @property {number|null} [port] Ip6AndPort port
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of an Ip6AndPort.
         * @memberof nebula
         * @interface IIp6AndPort
         * @augments nebula.Ip6AndPort.$Properties
         * @deprecated Use nebula.Ip6AndPort.$Properties instead.
         */

        /**
         * Shape of an Ip6AndPort.
         * @typedef {nebula.Ip6AndPort.$Properties} nebula.Ip6AndPort.$Shape
         */

        /**
         * Constructs a new Ip6AndPort.
         * @memberof nebula
         * @classdesc Represents an Ip6AndPort.
         * @constructor
         * @param {nebula.Ip6AndPort.$Properties=} [properties] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        const Ip6AndPort = function (properties) {
            if (properties)
                for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                    if (properties[keys[i]] != null && keys[i] !== "__proto__")
                        this[keys[i]] = properties[keys[i]];
        };

        /**
         * Ip6AndPort hi.
         * @member {number|Long} hi
         * @memberof nebula.Ip6AndPort
         * @instance
         */
        Ip6AndPort.prototype.hi = $util.Long ? $util.Long.fromBits(0,0,true) : 0;

        /**
         * Ip6AndPort lo.
         * @member {number|Long} lo
         * @memberof nebula.Ip6AndPort
         * @instance
         */
        Ip6AndPort.prototype.lo = $util.Long ? $util.Long.fromBits(0,0,true) : 0;

        /**
         * Ip6AndPort port.
         * @member {number} port
         * @memberof nebula.Ip6AndPort
         * @instance
         */
        Ip6AndPort.prototype.port = 0;

        /**
         * Encodes the specified Ip6AndPort message. Does not implicitly {@link nebula.Ip6AndPort.verify|verify} messages.
         * @function encode
         * @memberof nebula.Ip6AndPort
         * @static
         * @param {nebula.Ip6AndPort.$Properties} message Ip6AndPort message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        Ip6AndPort.encode = function (message, writer, _depth) {
            if (!writer)
                writer = $Writer.create();
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (message.hi != null && $Object.hasOwnProperty.call(message, "hi") && (typeof message.hi === "object" ? message.hi.low || message.hi.high : message.hi !== 0))
                writer.uint32(/* id 1, wireType 0 =*/8).uint64(message.hi);
            if (message.lo != null && $Object.hasOwnProperty.call(message, "lo") && (typeof message.lo === "object" ? message.lo.low || message.lo.high : message.lo !== 0))
                writer.uint32(/* id 2, wireType 0 =*/16).uint64(message.lo);
            if (message.port != null && $Object.hasOwnProperty.call(message, "port") && message.port !== 0)
                writer.uint32(/* id 3, wireType 0 =*/24).uint32(message.port);
            if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                for (let i = 0; i < message.$unknowns.length; ++i)
                    writer.raw(message.$unknowns[i]);
            return writer;
        };

        /**
         * Decodes an Ip6AndPort message from the specified reader or buffer.
         * @function decode
         * @memberof nebula.Ip6AndPort
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @param {number} [length] Message length if known beforehand
         * @returns {nebula.Ip6AndPort & nebula.Ip6AndPort.$Shape} Ip6AndPort
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        Ip6AndPort.decode = function (reader, length, _end, _depth, _target) {
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
            message = _target || new $root.nebula.Ip6AndPort();
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
                        if (wireType !== 0)
                            break;
                        if (typeof (value = reader.uint64()) === "object" ? value.low || value.high : value !== 0)
                            message.hi = value;
                        else
                            delete message.hi;
                        continue;
                    }
                case 2: {
                        if (wireType !== 0)
                            break;
                        if (typeof (value = reader.uint64()) === "object" ? value.low || value.high : value !== 0)
                            message.lo = value;
                        else
                            delete message.lo;
                        continue;
                    }
                case 3: {
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.port = value;
                        else
                            delete message.port;
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

        return Ip6AndPort;
    })();

    nebula.NebulaHandshake = (function() {

        /**
         * Properties of a NebulaHandshake.
         * @typedef {Object} nebula.NebulaHandshake.$Properties
         * @property {nebula.NebulaHandshakeDetails.$Properties|null} [details] NebulaHandshake details
         * @property {Uint8Array|null} [hmac] NebulaHandshake hmac
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of a NebulaHandshake.
         * @memberof nebula
         * @interface INebulaHandshake
         * @augments nebula.NebulaHandshake.$Properties
         * @deprecated Use nebula.NebulaHandshake.$Properties instead.
         */

        /**
         * Shape of a NebulaHandshake.
         * @typedef {nebula.NebulaHandshake.$Properties} nebula.NebulaHandshake.$Shape
         */

        /**
         * Constructs a new NebulaHandshake.
         * @memberof nebula
         * @classdesc Represents a NebulaHandshake.
         * @constructor
         * @param {nebula.NebulaHandshake.$Properties=} [properties] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        const NebulaHandshake = function (properties) {
            if (properties)
                for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                    if (properties[keys[i]] != null && keys[i] !== "__proto__")
                        this[keys[i]] = properties[keys[i]];
        };

        /**
         * NebulaHandshake details.
         * @member {nebula.NebulaHandshakeDetails.$Properties|null|undefined} details
         * @memberof nebula.NebulaHandshake
         * @instance
         */
        NebulaHandshake.prototype.details = null;

        /**
         * NebulaHandshake hmac.
         * @member {Uint8Array} hmac
         * @memberof nebula.NebulaHandshake
         * @instance
         */
        NebulaHandshake.prototype.hmac = $util.newBuffer([]);

        /**
         * Encodes the specified NebulaHandshake message. Does not implicitly {@link nebula.NebulaHandshake.verify|verify} messages.
         * @function encode
         * @memberof nebula.NebulaHandshake
         * @static
         * @param {nebula.NebulaHandshake.$Properties} message NebulaHandshake message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        NebulaHandshake.encode = function (message, writer, _depth) {
            if (!writer)
                writer = $Writer.create();
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (message.details != null && $Object.hasOwnProperty.call(message, "details"))
                $root.nebula.NebulaHandshakeDetails.encode(message.details, writer.uint32(/* id 1, wireType 2 =*/10).fork(), _depth + 1).ldelim();
            if (message.hmac != null && $Object.hasOwnProperty.call(message, "hmac") && message.hmac.length)
                writer.uint32(/* id 2, wireType 2 =*/18).bytes(message.hmac);
            if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                for (let i = 0; i < message.$unknowns.length; ++i)
                    writer.raw(message.$unknowns[i]);
            return writer;
        };

        /**
         * Decodes a NebulaHandshake message from the specified reader or buffer.
         * @function decode
         * @memberof nebula.NebulaHandshake
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @param {number} [length] Message length if known beforehand
         * @returns {nebula.NebulaHandshake & nebula.NebulaHandshake.$Shape} NebulaHandshake
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        NebulaHandshake.decode = function (reader, length, _end, _depth, _target) {
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
            message = _target || new $root.nebula.NebulaHandshake();
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
                        message.details = $root.nebula.NebulaHandshakeDetails.decode(reader, reader.size(), $undefined, _depth + 1, message.details);
                        continue;
                    }
                case 2: {
                        if (wireType !== 2)
                            break;
                        if ((value = reader.bytes()).length)
                            message.hmac = value;
                        else
                            delete message.hmac;
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

        return NebulaHandshake;
    })();

    nebula.NebulaHandshakeDetails = (function() {

        /**
         * Properties of a NebulaHandshakeDetails.
         * @typedef {Object} nebula.NebulaHandshakeDetails.$Properties
         * @property {Uint8Array|null} [cert] NebulaHandshakeDetails cert
         * @property {number|null} [initiatorIndex] NebulaHandshakeDetails initiatorIndex
         * @property {number|null} [responderIndex] NebulaHandshakeDetails responderIndex
         * @property {number|Long|null} [cookie] NebulaHandshakeDetails cookie
         * @property {number|Long|null} [time] NebulaHandshakeDetails time
         * @property {number|null} [certVersion] NebulaHandshakeDetails certVersion
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of a NebulaHandshakeDetails.
         * @memberof nebula
         * @interface INebulaHandshakeDetails
         * @augments nebula.NebulaHandshakeDetails.$Properties
         * @deprecated Use nebula.NebulaHandshakeDetails.$Properties instead.
         */

        /**
         * Shape of a NebulaHandshakeDetails.
         * @typedef {nebula.NebulaHandshakeDetails.$Properties} nebula.NebulaHandshakeDetails.$Shape
         */

        /**
         * Constructs a new NebulaHandshakeDetails.
         * @memberof nebula
         * @classdesc Represents a NebulaHandshakeDetails.
         * @constructor
         * @param {nebula.NebulaHandshakeDetails.$Properties=} [properties] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        const NebulaHandshakeDetails = function (properties) {
            if (properties)
                for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                    if (properties[keys[i]] != null && keys[i] !== "__proto__")
                        this[keys[i]] = properties[keys[i]];
        };

        /**
         * NebulaHandshakeDetails cert.
         * @member {Uint8Array} cert
         * @memberof nebula.NebulaHandshakeDetails
         * @instance
         */
        NebulaHandshakeDetails.prototype.cert = $util.newBuffer([]);

        /**
         * NebulaHandshakeDetails initiatorIndex.
         * @member {number} initiatorIndex
         * @memberof nebula.NebulaHandshakeDetails
         * @instance
         */
        NebulaHandshakeDetails.prototype.initiatorIndex = 0;

        /**
         * NebulaHandshakeDetails responderIndex.
         * @member {number} responderIndex
         * @memberof nebula.NebulaHandshakeDetails
         * @instance
         */
        NebulaHandshakeDetails.prototype.responderIndex = 0;

        /**
         * NebulaHandshakeDetails cookie.
         * @member {number|Long} cookie
         * @memberof nebula.NebulaHandshakeDetails
         * @instance
         */
        NebulaHandshakeDetails.prototype.cookie = $util.Long ? $util.Long.fromBits(0,0,true) : 0;

        /**
         * NebulaHandshakeDetails time.
         * @member {number|Long} time
         * @memberof nebula.NebulaHandshakeDetails
         * @instance
         */
        NebulaHandshakeDetails.prototype.time = $util.Long ? $util.Long.fromBits(0,0,true) : 0;

        /**
         * NebulaHandshakeDetails certVersion.
         * @member {number} certVersion
         * @memberof nebula.NebulaHandshakeDetails
         * @instance
         */
        NebulaHandshakeDetails.prototype.certVersion = 0;

        /**
         * Encodes the specified NebulaHandshakeDetails message. Does not implicitly {@link nebula.NebulaHandshakeDetails.verify|verify} messages.
         * @function encode
         * @memberof nebula.NebulaHandshakeDetails
         * @static
         * @param {nebula.NebulaHandshakeDetails.$Properties} message NebulaHandshakeDetails message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        NebulaHandshakeDetails.encode = function (message, writer, _depth) {
            if (!writer)
                writer = $Writer.create();
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (message.cert != null && $Object.hasOwnProperty.call(message, "cert") && message.cert.length)
                writer.uint32(/* id 1, wireType 2 =*/10).bytes(message.cert);
            if (message.initiatorIndex != null && $Object.hasOwnProperty.call(message, "initiatorIndex") && message.initiatorIndex !== 0)
                writer.uint32(/* id 2, wireType 0 =*/16).uint32(message.initiatorIndex);
            if (message.responderIndex != null && $Object.hasOwnProperty.call(message, "responderIndex") && message.responderIndex !== 0)
                writer.uint32(/* id 3, wireType 0 =*/24).uint32(message.responderIndex);
            if (message.cookie != null && $Object.hasOwnProperty.call(message, "cookie") && (typeof message.cookie === "object" ? message.cookie.low || message.cookie.high : message.cookie !== 0))
                writer.uint32(/* id 4, wireType 0 =*/32).uint64(message.cookie);
            if (message.time != null && $Object.hasOwnProperty.call(message, "time") && (typeof message.time === "object" ? message.time.low || message.time.high : message.time !== 0))
                writer.uint32(/* id 5, wireType 0 =*/40).uint64(message.time);
            if (message.certVersion != null && $Object.hasOwnProperty.call(message, "certVersion") && message.certVersion !== 0)
                writer.uint32(/* id 8, wireType 0 =*/64).uint32(message.certVersion);
            if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                for (let i = 0; i < message.$unknowns.length; ++i)
                    writer.raw(message.$unknowns[i]);
            return writer;
        };

        /**
         * Decodes a NebulaHandshakeDetails message from the specified reader or buffer.
         * @function decode
         * @memberof nebula.NebulaHandshakeDetails
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @param {number} [length] Message length if known beforehand
         * @returns {nebula.NebulaHandshakeDetails & nebula.NebulaHandshakeDetails.$Shape} NebulaHandshakeDetails
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        NebulaHandshakeDetails.decode = function (reader, length, _end, _depth, _target) {
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
            message = _target || new $root.nebula.NebulaHandshakeDetails();
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
                        if ((value = reader.bytes()).length)
                            message.cert = value;
                        else
                            delete message.cert;
                        continue;
                    }
                case 2: {
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.initiatorIndex = value;
                        else
                            delete message.initiatorIndex;
                        continue;
                    }
                case 3: {
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.responderIndex = value;
                        else
                            delete message.responderIndex;
                        continue;
                    }
                case 4: {
                        if (wireType !== 0)
                            break;
                        if (typeof (value = reader.uint64()) === "object" ? value.low || value.high : value !== 0)
                            message.cookie = value;
                        else
                            delete message.cookie;
                        continue;
                    }
                case 5: {
                        if (wireType !== 0)
                            break;
                        if (typeof (value = reader.uint64()) === "object" ? value.low || value.high : value !== 0)
                            message.time = value;
                        else
                            delete message.time;
                        continue;
                    }
                case 8: {
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.certVersion = value;
                        else
                            delete message.certVersion;
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

        return NebulaHandshakeDetails;
    })();

    nebula.NebulaControl = (function() {

        /**
         * Properties of a NebulaControl.
         * @typedef {Object} nebula.NebulaControl.$Properties
         * @property {nebula.NebulaControl.MessageType|null} [type] NebulaControl type
         * @property {number|null} [initiatorRelayIndex] NebulaControl initiatorRelayIndex
         * @property {number|null} [responderRelayIndex] NebulaControl responderRelayIndex
         * @property {number|null} [relayToIp] NebulaControl relayToIp
         * @property {number|null} [relayFromIp] NebulaControl relayFromIp
         * @property {nebula.Addr.$Properties|null} [relayToAddr] NebulaControl relayToAddr
         * @property {nebula.Addr.$Properties|null} [relayFromAddr] NebulaControl relayFromAddr
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of a NebulaControl.
         * @memberof nebula
         * @interface INebulaControl
         * @augments nebula.NebulaControl.$Properties
         * @deprecated Use nebula.NebulaControl.$Properties instead.
         */

        /**
         * Shape of a NebulaControl.
         * @typedef {nebula.NebulaControl.$Properties} nebula.NebulaControl.$Shape
         */

        /**
         * Constructs a new NebulaControl.
         * @memberof nebula
         * @classdesc Represents a NebulaControl.
         * @constructor
         * @param {nebula.NebulaControl.$Properties=} [properties] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        const NebulaControl = function (properties) {
            if (properties)
                for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                    if (properties[keys[i]] != null && keys[i] !== "__proto__")
                        this[keys[i]] = properties[keys[i]];
        };

        /**
         * NebulaControl type.
         * @member {nebula.NebulaControl.MessageType} type
         * @memberof nebula.NebulaControl
         * @instance
         */
        NebulaControl.prototype.type = 0;

        /**
         * NebulaControl initiatorRelayIndex.
         * @member {number} initiatorRelayIndex
         * @memberof nebula.NebulaControl
         * @instance
         */
        NebulaControl.prototype.initiatorRelayIndex = 0;

        /**
         * NebulaControl responderRelayIndex.
         * @member {number} responderRelayIndex
         * @memberof nebula.NebulaControl
         * @instance
         */
        NebulaControl.prototype.responderRelayIndex = 0;

        /**
         * NebulaControl relayToIp.
         * @member {number} relayToIp
         * @memberof nebula.NebulaControl
         * @instance
         */
        NebulaControl.prototype.relayToIp = 0;

        /**
         * NebulaControl relayFromIp.
         * @member {number} relayFromIp
         * @memberof nebula.NebulaControl
         * @instance
         */
        NebulaControl.prototype.relayFromIp = 0;

        /**
         * NebulaControl relayToAddr.
         * @member {nebula.Addr.$Properties|null|undefined} relayToAddr
         * @memberof nebula.NebulaControl
         * @instance
         */
        NebulaControl.prototype.relayToAddr = null;

        /**
         * NebulaControl relayFromAddr.
         * @member {nebula.Addr.$Properties|null|undefined} relayFromAddr
         * @memberof nebula.NebulaControl
         * @instance
         */
        NebulaControl.prototype.relayFromAddr = null;

        /**
         * Encodes the specified NebulaControl message. Does not implicitly {@link nebula.NebulaControl.verify|verify} messages.
         * @function encode
         * @memberof nebula.NebulaControl
         * @static
         * @param {nebula.NebulaControl.$Properties} message NebulaControl message or plain object to encode
         * @param {$protobuf.Writer} [writer] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        NebulaControl.encode = function (message, writer, _depth) {
            if (!writer)
                writer = $Writer.create();
            if (_depth === $undefined)
                _depth = 0;
            if (_depth > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (message.type != null && $Object.hasOwnProperty.call(message, "type") && message.type !== 0)
                writer.uint32(/* id 1, wireType 0 =*/8).int32(message.type);
            if (message.initiatorRelayIndex != null && $Object.hasOwnProperty.call(message, "initiatorRelayIndex") && message.initiatorRelayIndex !== 0)
                writer.uint32(/* id 2, wireType 0 =*/16).uint32(message.initiatorRelayIndex);
            if (message.responderRelayIndex != null && $Object.hasOwnProperty.call(message, "responderRelayIndex") && message.responderRelayIndex !== 0)
                writer.uint32(/* id 3, wireType 0 =*/24).uint32(message.responderRelayIndex);
            if (message.relayToIp != null && $Object.hasOwnProperty.call(message, "relayToIp") && message.relayToIp !== 0)
                writer.uint32(/* id 4, wireType 0 =*/32).uint32(message.relayToIp);
            if (message.relayFromIp != null && $Object.hasOwnProperty.call(message, "relayFromIp") && message.relayFromIp !== 0)
                writer.uint32(/* id 5, wireType 0 =*/40).uint32(message.relayFromIp);
            if (message.relayToAddr != null && $Object.hasOwnProperty.call(message, "relayToAddr"))
                $root.nebula.Addr.encode(message.relayToAddr, writer.uint32(/* id 6, wireType 2 =*/50).fork(), _depth + 1).ldelim();
            if (message.relayFromAddr != null && $Object.hasOwnProperty.call(message, "relayFromAddr"))
                $root.nebula.Addr.encode(message.relayFromAddr, writer.uint32(/* id 7, wireType 2 =*/58).fork(), _depth + 1).ldelim();
            if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                for (let i = 0; i < message.$unknowns.length; ++i)
                    writer.raw(message.$unknowns[i]);
            return writer;
        };

        /**
         * Decodes a NebulaControl message from the specified reader or buffer.
         * @function decode
         * @memberof nebula.NebulaControl
         * @static
         * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
         * @param {number} [length] Message length if known beforehand
         * @returns {nebula.NebulaControl & nebula.NebulaControl.$Shape} NebulaControl
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        NebulaControl.decode = function (reader, length, _end, _depth, _target) {
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
            message = _target || new $root.nebula.NebulaControl();
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
                        if (wireType !== 0)
                            break;
                        if (value = reader.int32())
                            message.type = value;
                        else
                            delete message.type;
                        continue;
                    }
                case 2: {
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.initiatorRelayIndex = value;
                        else
                            delete message.initiatorRelayIndex;
                        continue;
                    }
                case 3: {
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.responderRelayIndex = value;
                        else
                            delete message.responderRelayIndex;
                        continue;
                    }
                case 4: {
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.relayToIp = value;
                        else
                            delete message.relayToIp;
                        continue;
                    }
                case 5: {
                        if (wireType !== 0)
                            break;
                        if (value = reader.uint32())
                            message.relayFromIp = value;
                        else
                            delete message.relayFromIp;
                        continue;
                    }
                case 6: {
                        if (wireType !== 2)
                            break;
                        message.relayToAddr = $root.nebula.Addr.decode(reader, reader.size(), $undefined, _depth + 1, message.relayToAddr);
                        continue;
                    }
                case 7: {
                        if (wireType !== 2)
                            break;
                        message.relayFromAddr = $root.nebula.Addr.decode(reader, reader.size(), $undefined, _depth + 1, message.relayFromAddr);
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

        /**
         * MessageType enum.
         * @name nebula.NebulaControl.MessageType
         * @enum {number}
         * @property {number} None=0 None value
         * @property {number} CreateRelayRequest=1 CreateRelayRequest value
         * @property {number} CreateRelayResponse=2 CreateRelayResponse value
         */
        NebulaControl.MessageType = (function() {
            const valuesById = $Object.create(null), values = $Object.create(valuesById);
            values[valuesById[0] = "None"] = 0;
            values[valuesById[1] = "CreateRelayRequest"] = 1;
            values[valuesById[2] = "CreateRelayResponse"] = 2;
            return values;
        })();

        return NebulaControl;
    })();

    return nebula;
})();

export {
  $root as default
};
