//! Checkers for both directions of a connection: [`Outbound`] decodes what an endpoint
//! wrote, as its peer would, and compares it with what the endpoint was expected to write;
//! [`Inbound`] checks what an endpoint delivered against its limits and the UTF-8 rule.

use bytes::BytesMut;
use sockless::close::parse_payload;
use sockless::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, OpCode};
use sockless::message::{Decoded, Decoder, FrameChunk, Message, MessageKind};
use sockless::{Config, ReceiveMode, Role};
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
}

/// Decodes the frames an endpoint wrote with a decoder of the peer's role, which checks the
/// masking direction and every framing rule, in [`ReceiveMode::Frames`] with limits out of
/// the way; each frame must be the next one expected.
#[derive(Debug)]
pub struct Outbound {
    decoder: Decoder,
    input: BytesMut,
    /// The data frame being put together from its chunks.
    partial: Option<(FrameHeader, Vec<u8>)>,
    expected: VecDeque<SentFrame>,
    close_seen: bool,
    /// Every byte written, to check on its own that it ends between frames.
    all: Vec<u8>,
}

impl Outbound {
    /// A checker for what an endpoint of `sender`'s role writes.
    pub fn new(sender: Role) -> Outbound {
        let mut config = Config::default();
        config.receive_mode = ReceiveMode::Frames;
        config.max_frame_size = usize::MAX;
        config.max_message_size = usize::MAX;
        config.max_fragments = usize::MAX;
        config.max_buffered_input = usize::MAX;
        Outbound {
            decoder: Decoder::new(peer(sender), &config),
            input: BytesMut::new(),
            partial: None,
            expected: VecDeque::new(),
            close_seen: false,
            all: Vec::new(),
        }
    }

    /// The endpoint should write `frame` next (after those expected already).
    pub fn expect(&mut self, frame: SentFrame) {
        self.expected.push_back(frame);
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
            match self.decoder.decode(&mut self.input) {
                Ok(None) => return,
                Ok(Some(Decoded::Control(opcode, payload))) => {
                    self.frame(SentFrame::whole(opcode, &payload));
                }
                Ok(Some(Decoded::Chunk(chunk))) => self.chunk(chunk),
                Ok(Some(Decoded::Message(m))) => {
                    panic!("a decoder in frames mode returned a whole message: {m:?}")
                }
                Err(e) => panic!(
                    "the endpoint wrote bytes that are not a valid frame stream: {e:?} \
                     (remaining input {:02x?})",
                    &self.input[..self.input.len().min(32)]
                ),
            }
        }
    }

    fn chunk(&mut self, chunk: FrameChunk) {
        let (header, data) = self
            .partial
            .get_or_insert_with(|| (chunk.header, Vec::new()));
        assert_eq!(*header, chunk.header, "chunks of one frame disagree");
        assert_eq!(chunk.offset, data.len() as u64, "a chunk out of order");
        data.extend_from_slice(&chunk.data);
        if chunk.is_last {
            let (header, payload) = self.partial.take().expect("set above");
            self.frame(SentFrame {
                opcode: header.opcode,
                fin: header.fin,
                payload,
            });
        }
    }

    fn frame(&mut self, frame: SentFrame) {
        assert!(
            !self.close_seen,
            "the endpoint wrote a frame after its close frame: {frame:?}"
        );
        if frame.opcode == OpCode::Close {
            self.close_seen = true;
            if let Err(e) = parse_payload(bytes::Bytes::from(frame.payload.clone())) {
                panic!("the endpoint wrote an invalid close frame ({e}): {frame:?}");
            }
        }
        match self.expected.pop_front() {
            Some(want) => assert_eq!(frame, want, "the endpoint wrote another frame"),
            None => panic!("the endpoint wrote a frame it had no reason to: {frame:?}"),
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
            self.input.is_empty() && self.partial.is_none(),
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
            self.decoder.is_idle() || self.close_seen || sending,
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
