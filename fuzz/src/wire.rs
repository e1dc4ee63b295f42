//! Checkers for both directions of a connection: [`Outbound`] decodes what an endpoint
//! wrote, as its peer would, and compares it with what the endpoint was expected to write;
//! [`Inbound`] checks what an endpoint delivered against its limits and the UTF-8 rule.

use sockless::codec::{FrameHeader, MAX_CONTROL_PAYLOAD, OpCode, apply_mask, parse_close_payload};
use sockless::{Config, FrameChunk, Message, MessageKind, Role};
use std::collections::VecDeque;

/// The other side.
pub fn peer(role: Role) -> Role {
    match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    }
}

/// One frame as the peer sees it, unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentFrame {
    /// The opcode.
    pub opcode: OpCode,
    /// FIN.
    pub fin: bool,
    /// The unmasked payload.
    pub payload: Vec<u8>,
}

impl SentFrame {
    /// A frame with FIN set.
    pub fn whole(opcode: OpCode, payload: &[u8]) -> SentFrame {
        SentFrame {
            opcode,
            fin: true,
            payload: payload.to_vec(),
        }
    }

    /// A close frame with `code` and `reason`.
    pub fn close(code: u16, reason: &[u8]) -> SentFrame {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(reason);
        SentFrame {
            opcode: OpCode::Close,
            fin: true,
            payload,
        }
    }

    /// How many bytes this frame takes on the wire when an endpoint of `sender`'s role
    /// writes it uncompressed (shortest length form, a mask iff a client).
    pub fn wire_len(&self, sender: Role) -> usize {
        let header = FrameHeader {
            mask: (sender == Role::Client).then_some([0; 4]),
            ..FrameHeader::new(self.opcode, self.payload.len() as u64)
        };
        header.encoded_len() + self.payload.len()
    }
}

/// The fragmented message a sender has under way, as [`Outbound`] follows it.
#[derive(Debug)]
struct SentMessage {
    kind: MessageKind,
    /// RSV1 was set on its first frame.
    compressed: bool,
    /// Text sent so far (uncompressed text only), to check it is UTF-8.
    text: Vec<u8>,
}

/// Parses the frames an endpoint wrote as its peer would, with the public header codec,
/// and checks each against the rules of RFC 6455 on its own (no decoder of the library's
/// is trusted here): the masking direction (masked exactly when a client wrote it), the
/// shortest length form (§5.2), RSV2/RSV3 never set and RSV1 only on the first frame of a
/// compressed message when permessage-deflate is on, control frames unfragmented and at
/// most 125 bytes, continuations only inside a message and no message started inside
/// another, uncompressed text UTF-8 across its fragments, close payloads well-formed.
/// Each frame must be the next one expected.
#[derive(Debug)]
pub struct Outbound {
    sender: Role,
    deflate: bool,
    /// Written bytes that do not make a whole frame yet.
    input: Vec<u8>,
    message: Option<SentMessage>,
    expected: VecDeque<SentFrame>,
    close_seen: bool,
    /// Every byte written, to check on its own that it ends between frames.
    all: Vec<u8>,
}

impl Outbound {
    /// A checker for what an endpoint of `sender`'s role writes, with permessage-deflate
    /// negotiated (`deflate`: RSV1 may mark a compressed message) or not.
    pub fn new(sender: Role, deflate: bool) -> Outbound {
        Outbound {
            sender,
            deflate,
            input: Vec::new(),
            message: None,
            expected: VecDeque::new(),
            close_seen: false,
            all: Vec::new(),
        }
    }

    /// The endpoint should write `frame` next (after those expected already).
    pub fn expect(&mut self, frame: SentFrame) {
        self.expected.push_back(frame);
    }

    /// Takes back the frame expected last, which the endpoint will not write after all (a
    /// pong it replaced with a newer one before writing any of it).
    pub fn unexpect_last(&mut self) -> Option<SentFrame> {
        self.expected.pop_back()
    }

    /// Whether a close frame was written.
    pub fn close_seen(&self) -> bool {
        self.close_seen
    }

    /// Takes more written bytes and checks every frame they complete.
    pub fn feed(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        assert!(
            !self.close_seen,
            "the endpoint wrote {} bytes after its close frame: {bytes:02x?}",
            bytes.len()
        );
        self.input.extend_from_slice(bytes);
        self.all.extend_from_slice(bytes);
        loop {
            let (header, n) = match FrameHeader::decode(&self.input) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => return,
                Err(e) => panic!(
                    "the endpoint wrote a frame header that does not decode: {e:?} ({:02x?})",
                    &self.input[..self.input.len().min(14)]
                ),
            };
            // Checked before the payload arrives, so that a header announcing more than
            // will ever come fails here rather than as "output ends inside a frame".
            self.check_header(&header, n);
            let len = usize::try_from(header.payload_len).expect("checked to be small");
            let Some(end) = n.checked_add(len).filter(|&end| end <= self.input.len()) else {
                return;
            };
            let mut payload = self.input[n..end].to_vec();
            if let Some(key) = header.mask {
                apply_mask(&mut payload, key, 0);
            }
            self.input.drain(..end);
            self.frame(&header, payload);
        }
    }

    /// The rules a header alone must follow.
    fn check_header(&self, header: &FrameHeader, n: usize) {
        assert_eq!(
            header.mask.is_some(),
            self.sender == Role::Client,
            "a {:?} wrote a frame {} (RFC 6455 §5.1): {header:?}",
            self.sender,
            if header.mask.is_some() {
                "masked"
            } else {
                "unmasked"
            }
        );
        assert_eq!(
            n,
            header.encoded_len(),
            "a frame header not in the shortest length form: {header:?}"
        );
        assert!(
            !header.rsv2 && !header.rsv3,
            "RSV2/RSV3 set, which nothing negotiated: {header:?}"
        );
        // An output larger than memory would have failed long before; this bounds the
        // payload that `feed` waits for.
        assert!(
            header.payload_len < 1 << 40,
            "a frame of {} bytes",
            header.payload_len
        );
        if header.opcode.is_control() {
            assert!(header.fin, "a fragmented control frame: {header:?}");
            assert!(
                header.payload_len <= MAX_CONTROL_PAYLOAD as u64,
                "a control frame of {} bytes",
                header.payload_len
            );
        }
        match header.opcode {
            OpCode::Continuation => assert!(
                self.message.is_some(),
                "a continuation frame with no message under way: {header:?}"
            ),
            OpCode::Text | OpCode::Binary => assert!(
                self.message.is_none(),
                "a new message started inside a fragmented one: {header:?}"
            ),
            _ => {}
        }
        if header.rsv1 {
            assert!(
                self.deflate && matches!(header.opcode, OpCode::Text | OpCode::Binary),
                "RSV1 set {}: {header:?}",
                if self.deflate {
                    "on a frame that does not start a message"
                } else {
                    "without permessage-deflate"
                }
            );
        }
    }

    fn frame(&mut self, header: &FrameHeader, payload: Vec<u8>) {
        let frame = SentFrame {
            opcode: header.opcode,
            fin: header.fin,
            payload,
        };
        assert!(
            !self.close_seen,
            "the endpoint wrote a frame after its close frame: {frame:?}"
        );
        match frame.opcode {
            OpCode::Close => {
                self.close_seen = true;
                if let Err(e) = parse_close_payload(bytes::Bytes::from(frame.payload.clone())) {
                    panic!("the endpoint wrote an invalid close frame ({e}): {frame:?}");
                }
            }
            OpCode::Text | OpCode::Binary | OpCode::Continuation => self.data(header, &frame),
            OpCode::Ping | OpCode::Pong => {}
        }
        match self.expected.pop_front() {
            Some(want) => assert_eq!(frame, want, "the endpoint wrote another frame"),
            None => panic!("the endpoint wrote a frame it had no reason to: {frame:?}"),
        }
    }

    /// Follows the message a data frame starts or continues.
    fn data(&mut self, header: &FrameHeader, frame: &SentFrame) {
        let message = self.message.get_or_insert_with(|| SentMessage {
            kind: if header.opcode == OpCode::Text {
                MessageKind::Text
            } else {
                MessageKind::Binary
            },
            compressed: header.rsv1,
            text: Vec::new(),
        });
        if message.kind == MessageKind::Text && !message.compressed {
            message.text.extend_from_slice(&frame.payload);
            let complete = core::str::from_utf8(&message.text);
            if let Err(e) = complete {
                assert!(
                    e.error_len().is_none() && !frame.fin,
                    "the endpoint wrote text that is not UTF-8: {:02x?}",
                    message.text
                );
            }
        }
        if frame.fin {
            self.message = None;
        }
    }

    /// Everything the endpoint was expected to write was written, and it stopped between
    /// frames, and between messages unless the application is in the middle of sending one
    /// (`sending`) or a close frame cut one short.
    pub fn finish(&self, sending: bool) {
        assert!(
            self.expected.is_empty(),
            "the endpoint did not write {:?}",
            self.expected
        );
        assert!(
            self.input.is_empty(),
            "the endpoint's output ends inside a frame"
        );
        let mut pos = 0;
        while pos < self.all.len() {
            match FrameHeader::decode(&self.all[pos..]) {
                Ok(Some((header, n))) => {
                    pos = pos
                        .saturating_add(n)
                        .saturating_add(header.payload_len as usize)
                }
                other => panic!("the output does not split into frames at {pos}: {other:?}"),
            }
        }
        assert_eq!(
            pos,
            self.all.len(),
            "the endpoint's output ends inside a frame"
        );
        assert!(
            self.message.is_none() || self.close_seen || sending,
            "the endpoint's output ends inside a fragmented message"
        );
    }
}

/// A message that arrives in frame chunks.
#[derive(Debug)]
struct ChunkedMessage {
    kind: MessageKind,
    /// Payload bytes declared by the frame headers so far.
    declared: u64,
    fragments: usize,
    data: Vec<u8>,
}

/// Checks what an endpoint delivered: messages and frame chunks within the configured
/// limits, text that is UTF-8 (whole messages) or a valid beginning of UTF-8 (chunks so
/// far), chunks that follow each other in order, control payloads of at most 125 bytes.
#[derive(Debug)]
pub struct Inbound {
    max_frame: u64,
    max_message: u64,
    max_fragments: usize,
    message: Option<ChunkedMessage>,
    /// The frame whose chunks are arriving, and the offset the next one must have.
    frame: Option<(FrameHeader, u64)>,
}

impl Inbound {
    /// A checker for an endpoint configured with `config`.
    pub fn new(config: &Config) -> Inbound {
        Inbound {
            max_frame: config.max_frame_size as u64,
            max_message: config.max_message_size as u64,
            max_fragments: config.max_fragments,
            message: None,
            frame: None,
        }
    }

    /// Checks a whole message.
    pub fn message(&self, message: &Message) {
        let len = message.as_bytes().len() as u64;
        assert!(
            len <= self.max_message,
            "a message of {len} bytes was delivered, over max_message_size {}",
            self.max_message
        );
        if let Message::Text(text) = message {
            assert!(
                core::str::from_utf8(text.as_bytes()).is_ok(),
                "a text message is not UTF-8: {:02x?}",
                &text.as_bytes()[..]
            );
        }
    }

    /// Checks a control frame's payload.
    pub fn control(&self, payload: &[u8]) {
        assert!(
            payload.len() <= MAX_CONTROL_PAYLOAD,
            "a control payload of {} bytes was delivered",
            payload.len()
        );
    }

    /// Checks the next chunk; returns the message it completes, if it does.
    pub fn chunk(&mut self, chunk: &FrameChunk) -> Option<(MessageKind, Vec<u8>)> {
        let header = chunk.header;
        assert!(
            !header.opcode.is_control(),
            "a control frame chunk: {chunk:?}"
        );
        assert!(
            header.payload_len <= self.max_frame,
            "a frame of {} bytes was delivered, over max_frame_size {}",
            header.payload_len,
            self.max_frame
        );
        let end = chunk.offset + chunk.data.len() as u64;
        assert!(end <= header.payload_len, "a chunk past its frame's end");
        assert_eq!(chunk.is_last, end == header.payload_len, "is_last is wrong");
        match self.frame {
            Some((h, next)) => {
                assert_eq!(
                    h, header,
                    "a chunk of another frame before the last one ended"
                );
                assert_eq!(chunk.offset, next, "a chunk at the wrong offset");
            }
            None => {
                assert_eq!(chunk.offset, 0, "a new frame starts at a non-zero offset");
                self.start_frame(chunk);
            }
        }
        self.frame = (!chunk.is_last).then_some((header, end));
        let message = self.message.as_mut().expect("start_frame makes one");
        assert_eq!(message.kind, chunk.kind, "a chunk of another kind");
        message.data.extend_from_slice(&chunk.data);
        if message.kind == MessageKind::Text
            && let Err(e) = core::str::from_utf8(&message.data)
        {
            assert!(
                e.error_len().is_none(),
                "text chunks so far are not a valid beginning of UTF-8: {:02x?}",
                message.data
            );
        }
        if !chunk.ends_message() {
            return None;
        }
        let message = self.message.take().expect("checked above");
        if message.kind == MessageKind::Text {
            assert!(
                core::str::from_utf8(&message.data).is_ok(),
                "a text message delivered in chunks is not UTF-8: {:02x?}",
                message.data
            );
        }
        Some((message.kind, message.data))
    }

    fn start_frame(&mut self, chunk: &FrameChunk) {
        let header = chunk.header;
        match header.opcode {
            OpCode::Continuation => assert!(
                self.message.is_some(),
                "a continuation chunk with no message in progress"
            ),
            OpCode::Text | OpCode::Binary => {
                assert!(
                    self.message.is_none(),
                    "a new message started inside another"
                );
                let kind = if header.opcode == OpCode::Text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                self.message = Some(ChunkedMessage {
                    kind,
                    declared: 0,
                    fragments: 0,
                    data: Vec::new(),
                });
            }
            other => panic!("a chunk of a {other:?} frame"),
        }
        let message = self.message.as_mut().expect("set above");
        message.fragments += 1;
        message.declared += header.payload_len;
        assert!(
            message.fragments <= self.max_fragments,
            "a message of {} fragments was delivered, over max_fragments {}",
            message.fragments,
            self.max_fragments
        );
        assert!(
            message.declared <= self.max_message,
            "a message of {} bytes was delivered, over max_message_size {}",
            message.declared,
            self.max_message
        );
    }
}
