package flowlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mdlayher/netlink"
)

// The nfnetlink_log protocol (linux/netfilter/nfnetlink_log.h): a message's type is the
// subsystem in the high byte and the message in the low one; its body is an nfgenmsg
// (family, version, resource id = the group, big-endian) followed by attributes whose
// values are big-endian.
const (
	subsysULOG    = 4 // NFNL_SUBSYS_ULOG
	msgPacket     = 0 // NFULNL_MSG_PACKET
	msgConfig     = 1 // NFULNL_MSG_CONFIG
	nfgenmsgLen   = 4
	nfnetlinkV0   = 0
	cfgCmdBind    = 1 // NFULNL_CFG_CMD_BIND
	copyPacket    = 2 // NFULNL_COPY_PACKET
	cfgFlagSeq    = 1 // NFULNL_CFG_F_SEQ: number the messages, so losses show
	attrCfgCmd    = 1 // NFULA_CFG_CMD
	attrCfgMode   = 2 // NFULA_CFG_MODE
	attrCfgBuf    = 3 // NFULA_CFG_NLBUFSIZ
	attrCfgTime   = 4 // NFULA_CFG_TIMEOUT, in 1/100 s
	attrCfgQueue  = 5 // NFULA_CFG_QTHRESH
	attrCfgFlags  = 6 // NFULA_CFG_FLAGS
	attrTimestamp = 3 // NFULA_TIMESTAMP
	attrPayload   = 9 // NFULA_PAYLOAD
	attrPrefix    = 10
	attrSeq       = 12
)

// Tuning of the kernel's log instance. Lines must arrive promptly (a person follows them),
// so the kernel flushes its batch after flushTimeout or queueThreshold packets; the copy
// range holds the IPv4 or IPv6 header, extension headers and the transport ports.
const (
	CopyRange      = 128
	flushTimeout   = 5 // 50 ms
	queueThreshold = 16
	nlBufSize      = 64 << 10
)

// Message is one packet the kernel logged.
type Message struct {
	// Group is the NFLOG group it was logged to.
	Group uint16
	// Prefix is the log rule's prefix (dataplane.LogPrefix), without the trailing NUL.
	Prefix string
	// Time is the kernel's timestamp of the packet when it has one, else when the
	// reader received it.
	Time time.Time
	// Seq is the instance's sequence number of the message (HasSeq when the kernel
	// sent one); a gap means the kernel lost messages.
	Seq    uint32
	HasSeq bool
	// Packet is the parsed payload.
	Packet Header
}

func logMsgType(msg uint16) netlink.HeaderType { return netlink.HeaderType(subsysULOG<<8 | msg) }

// configMessage binds the socket to group and sets it up in one message: the kernel
// creates the instance for the bind command and then applies the other attributes.
func configMessage(group uint16) netlink.Message {
	ae := netlink.NewAttributeEncoder()
	ae.ByteOrder = binary.BigEndian
	ae.Bytes(attrCfgCmd, []byte{cfgCmdBind})
	mode := make([]byte, 6) // copy_range be32, copy_mode u8, pad u8
	binary.BigEndian.PutUint32(mode, CopyRange)
	mode[4] = copyPacket
	ae.Bytes(attrCfgMode, mode)
	ae.Uint32(attrCfgBuf, nlBufSize)
	ae.Uint32(attrCfgTime, flushTimeout)
	ae.Uint32(attrCfgQueue, queueThreshold)
	ae.Uint16(attrCfgFlags, cfgFlagSeq)
	attrs, _ := ae.Encode() // cannot fail: every attribute is fixed and small
	data := make([]byte, nfgenmsgLen, nfgenmsgLen+len(attrs))
	data[0] = 0 // AF_UNSPEC
	data[1] = nfnetlinkV0
	binary.BigEndian.PutUint16(data[2:4], group)
	return netlink.Message{
		Header: netlink.Header{Type: logMsgType(msgConfig), Flags: netlink.Request | netlink.Acknowledge},
		Data:   append(data, attrs...),
	}
}

var errNoPayload = errors.New("log message without a packet payload")

// parseMessage reads the body of an NFULNL_MSG_PACKET message. received is the time to
// use when the kernel gave no timestamp (it stamps only packets something asked to be
// stamped, so usually there is none).
func parseMessage(data []byte, received time.Time) (Message, error) {
	if len(data) < nfgenmsgLen {
		return Message{}, fmt.Errorf("log message of %d bytes: %w", len(data), ErrTruncated)
	}
	m := Message{Group: binary.BigEndian.Uint16(data[2:4]), Time: received}
	ad, err := netlink.NewAttributeDecoder(data[nfgenmsgLen:])
	if err != nil {
		return m, fmt.Errorf("log message attributes: %w", err)
	}
	ad.ByteOrder = binary.BigEndian
	var payload []byte
	for ad.Next() {
		switch ad.Type() {
		case attrPrefix:
			m.Prefix = trimNUL(ad.Bytes())
		case attrPayload:
			payload = ad.Bytes()
		case attrSeq:
			if b := ad.Bytes(); len(b) == 4 {
				m.Seq, m.HasSeq = binary.BigEndian.Uint32(b), true
			}
		case attrTimestamp:
			if b := ad.Bytes(); len(b) == 16 {
				sec, usec := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
				if sec != 0 && sec < 1<<40 && usec < 1e6 {
					m.Time = time.Unix(int64(sec), int64(usec)*1e3)
				}
			}
		}
	}
	if err := ad.Err(); err != nil {
		return m, fmt.Errorf("log message attributes: %w", err)
	}
	if payload == nil {
		return m, errNoPayload
	}
	m.Packet, err = ParsePacket(payload)
	return m, err
}

func trimNUL(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
