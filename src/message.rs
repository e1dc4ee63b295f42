//! The message layer: the receive-side [`Decoder`] that turns bytes into checked frames and
//! reassembled messages, validating text as its bytes arrive.
//!
//! Payloads are unmasked in place in the input buffer and handed out as slices of it
//! ([`Bytes`]), so a message that arrives in one frame is never copied. Only a fragmented
//! message is copied, once, into the reassembly buffer, unmasked on the way.

use crate::config::{Config, ReceiveMode, Role};
use crate::error::ProtocolError;
use crate::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, OpCode, apply_mask};
use crate::utf8::{Utf8Bytes, Utf8Validator};
use bytes::{Buf, Bytes, BytesMut};

/// Text is unmasked and validated in blocks of this many bytes (a multiple of 4).
const UNMASK_BLOCK: usize = 16 * 1024;

/// A complete data message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message, validated UTF-8.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// The payload bytes, whatever the kind.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    /// The kind of message.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Text(_) => MessageKind::Text,
            Message::Binary(_) => MessageKind::Binary,
        }
    }
}

impl From<&str> for Message {
    /// A text message.
    fn from(text: &str) -> Message {
        Message::Text(text.into())
    }
}

impl From<alloc::string::String> for Message {
    /// A text message.
    fn from(text: alloc::string::String) -> Message {
        Message::Text(text.into())
    }
}

impl From<Utf8Bytes> for Message {
    /// A text message.
    fn from(text: Utf8Bytes) -> Message {
        Message::Text(text)
    }
}

impl From<Bytes> for Message {
    /// A binary message.
    fn from(data: Bytes) -> Message {
        Message::Binary(data)
    }
}

impl From<alloc::vec::Vec<u8>> for Message {
    /// A binary message.
    fn from(data: alloc::vec::Vec<u8>) -> Message {
        Message::Binary(data.into())
    }
}

impl From<&[u8]> for Message {
    /// A binary message (the bytes are copied).
    fn from(data: &[u8]) -> Message {
        Message::Binary(Bytes::copy_from_slice(data))
    }
}

/// Text or binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// UTF-8 text (opcode 0x1).
    Text,
    /// Binary data (opcode 0x2).
    Binary,
}

impl MessageKind {
    /// The opcode of the first frame of a message of this kind.
    pub const fn opcode(self) -> OpCode {
        match self {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        }
    }
}

/// A piece of a data frame's payload, in [`ReceiveMode::Frames`].
///
/// The pieces of one frame have the same `header` and consecutive `offset`s; the last has
/// `is_last` set. Text pieces are valid UTF-8 *so far* (a code point may straddle pieces and
/// frames), and the message's final piece ends on a code point boundary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameChunk {
    /// The frame's header as received (the payload is already unmasked).
    pub header: FrameHeader,
    /// The kind of message this frame belongs to (continuations inherit it).
    pub kind: MessageKind,
    /// Where `data` starts within the frame's payload.
    pub offset: u64,
    /// Unmasked payload bytes.
    pub data: Bytes,
    /// This piece ends the frame.
    pub is_last: bool,
}

impl FrameChunk {
    /// This piece ends the frame and the frame ends its message.
    pub fn ends_message(&self) -> bool {
        self.is_last && self.header.fin
    }
}

/// A complete message whose bytes are borrowed from the connection's buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageRef<'a> {
    /// A text message, validated UTF-8.
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}

impl<'a> MessageRef<'a> {
    /// The payload bytes, whatever the kind.
    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            MessageRef::Text(t) => t.as_bytes(),
            MessageRef::Binary(b) => b,
        }
    }

    /// The kind of message.
    pub fn kind(&self) -> MessageKind {
        match self {
            MessageRef::Text(_) => MessageKind::Text,
            MessageRef::Binary(_) => MessageKind::Binary,
        }
    }
}

/// What [`Decoder::decode_borrowed`] produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DecodedRef<'a> {
    /// A reassembled message.
    Message(MessageRef<'a>),
    /// A complete control frame.
    Control(OpCode, &'a [u8]),
    /// What is owned anyway: inflated messages, frame chunks.
    Owned(Decoded),
}

/// Where a decoded item's bytes are, before they are handed out owned or borrowed.
#[derive(Debug)]
pub(crate) enum Raw {
    /// A control frame; its payload is `input[start..start + len]`.
    Control(OpCode, Span),
    /// A single-frame message, checked; its payload is `input[start..start + len]`.
    Whole(MessageKind, Span),
    /// A reassembled message, checked, in the reassembly buffer.
    Assembled(MessageKind),
    /// Owned already (inflated messages, frame chunks).
    Owned(Decoded),
}

/// Where a payload sits at the front of the input: after `start` bytes (a header not yet
/// consumed), `len` bytes long.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) len: usize,
}

impl Span {
    fn at_front(len: usize) -> Span {
        Span { start: 0, len }
    }

    /// Consumes the span (and what precedes it) from `input`, returning the payload: a
    /// slice of the input's allocation of `backing` bytes, or a copy when the payload is so
    /// much smaller that a message the application keeps would pin many times its size.
    #[inline]
    fn take(self, input: &mut BytesMut, backing: usize) -> Bytes {
        if pins_too_much(self.len, backing) {
            let payload = Bytes::copy_from_slice(self.of(input));
            input.advance(self.start + self.len);
            return payload;
        }
        // One split of the input, header included, then the header dropped from the
        // frozen view: moving a `Bytes`' start is pointer arithmetic, where each
        // `BytesMut` operation checks its representation again.
        let mut frame = input.split_to(self.start + self.len).freeze();
        frame.advance(self.start);
        frame
    }

    /// The payload, in place.
    pub(crate) fn of(self, input: &[u8]) -> &[u8] {
        &input[self.start..self.start + self.len]
    }
}

/// A payload handed out owned holds its buffer's whole allocation for as long as the
/// application keeps it; one that would hold more than this many times its own size is
/// copied out instead.
pub(crate) const MAX_PIN_FACTOR: usize = 8;

fn pins_too_much(len: usize, backing: usize) -> bool {
    len.saturating_mul(MAX_PIN_FACTOR) < backing
}

/// How a whole data frame left its message.
enum Complete {
    /// More frames follow (of a compressed message; others stream into the assembly).
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    Pending,
    /// A single-frame message, its payload still in the input.
    InPlace(MessageKind),
    /// An inflated message.
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    Inflated(Message),
}

fn message_of(kind: MessageKind, data: Bytes) -> Message {
    match kind {
        MessageKind::Binary => Message::Binary(data),
        MessageKind::Text => Message::Text(Utf8Bytes::from_validated(data)),
    }
}

fn message_ref(kind: MessageKind, data: &[u8]) -> MessageRef<'_> {
    match kind {
        MessageKind::Binary => MessageRef::Binary(data),
        MessageKind::Text => MessageRef::Text(crate::utf8::validated_str(data)),
    }
}

/// The UTF-8 state of the message a data frame with `header` belongs to, if its payload is
/// text to validate as it arrives (not compressed: that is validated once inflated).
fn text_validator<'a>(
    message: &'a mut Option<InProgress>,
    header: &FrameHeader,
) -> Option<&'a mut Utf8Validator> {
    if header.opcode.is_control() {
        return None;
    }
    message
        .as_mut()
        .filter(|m| m.kind == MessageKind::Text && !m.compressed)
        .map(|m| &mut m.utf8)
}

/// Appends `src`, payload bytes from position `offset` of their frame (only its value
/// modulo 4 matters), to `buf` unmasked with `key`. Called a block at a time, so the
/// unmasking pass runs over bytes the copy has just brought into the cache.
#[inline]
fn extend_unmasked(buf: &mut BytesMut, src: &[u8], key: [u8; 4], offset: usize) {
    let len = buf.len();
    buf.extend_from_slice(src);
    apply_mask(&mut buf[len..], key, offset);
}

/// What the [`Decoder`] produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// A reassembled message ([`ReceiveMode::Messages`]).
    Message(Message),
    /// A piece of a data frame ([`ReceiveMode::Frames`]).
    Chunk(FrameChunk),
    /// A complete control frame: close, ping or pong, unmasked, at most 125 bytes.
    Control(OpCode, Bytes),
}

/// Where the decoder is within the current frame.
#[derive(Clone, Copy, Debug)]
enum FrameState {
    /// Waiting for a complete header.
    Header,
    /// The header was consumed from the input; its payload follows.
    Payload {
        header: FrameHeader,
        /// Payload bytes already handed out (frame mode) and gone from the input.
        consumed: u64,
        /// Bytes at the front of the input that are unmasked and validated already.
        checked: usize,
    },
}

/// The data message whose frames are arriving.
#[derive(Clone, Copy, Debug)]
struct InProgress {
    kind: MessageKind,
    /// RSV1 on the first frame under permessage-deflate: the payload is inflated before it is
    /// validated or delivered.
    compressed: bool,
    utf8: Utf8Validator,
    /// Payload bytes so far, including the frame whose header was just accepted.
    len: u64,
    /// Bytes inflated so far, for a compressed message.
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    inflated_len: usize,
    fragments: usize,
}

/// The receive half of the protocol below the connection: decodes frames from an input
/// buffer, enforces the rules that depend on the role and the message in progress, unmasks
/// (in place, or on the way into the reassembly buffer), validates text incrementally and
/// reassembles messages.
///
/// It knows nothing of closing or replying; [`Connection`](crate::Connection) does that,
/// and it never calls the decoder again after an error: the bytes of a frame that failed
/// are half unmasked, so decoding them again would hand out what was never validated.
#[derive(Debug)]
pub(crate) struct Decoder {
    expect_masked: bool,
    mode: ReceiveMode,
    max_frame_size: usize,
    max_message_size: usize,
    max_fragments: usize,
    /// RSV1 is claimed by a negotiated extension (permessage-deflate): the seam where a
    /// compressed message is recognised on its first frame.
    rsv1_claimed: bool,
    frame: FrameState,
    message: Option<InProgress>,
    /// Fragments of the message in progress ([`ReceiveMode::Messages`] only).
    assembly: BytesMut,
    /// Input bytes of the last borrowed item, consumed at the next call.
    lent_input: usize,
    /// The reassembly buffer was lent out; cleared at the next call.
    lent_assembly: bool,
    /// permessage-deflate's inflater, boxed: most connections never negotiate it.
    #[cfg(feature = "deflate")]
    inflater: Option<alloc::boxed::Box<crate::deflate::Inflater>>,
}

impl Decoder {
    /// A decoder for an endpoint of `role`, with the limits and mode of `config`.
    pub(crate) fn new(role: Role, config: &Config) -> Decoder {
        Decoder {
            expect_masked: role == Role::Server,
            mode: config.receive_mode,
            max_frame_size: config.max_frame_size,
            max_message_size: config.max_message_size,
            max_fragments: config.max_fragments,
            rsv1_claimed: false,
            frame: FrameState::Header,
            message: None,
            assembly: BytesMut::new(),
            lent_input: 0,
            lent_assembly: false,
            #[cfg(feature = "deflate")]
            inflater: None,
        }
    }

    /// Turns on permessage-deflate with the negotiated `params`: RSV1 on a message's first
    /// frame now marks it compressed. `role` is this decoder's endpoint.
    #[cfg(feature = "deflate")]
    pub(crate) fn enable_deflate(&mut self, role: Role, params: &crate::deflate::DeflateParams) {
        self.rsv1_claimed = true;
        self.inflater = Some(alloc::boxed::Box::new(crate::deflate::Inflater::new(
            role, params,
        )));
    }

    /// Whether permessage-deflate is on.
    #[cfg(feature = "deflate")]
    pub(crate) fn deflate_enabled(&self) -> bool {
        self.inflater.is_some()
    }

    /// Whether a data message has begun and not ended: some of its frames were accepted.
    #[cfg(feature = "deflate")]
    pub(crate) fn message_in_progress(&self) -> bool {
        self.message.is_some()
    }

    /// Whether the reassembly buffer is empty and its allocation is over `keep` bytes.
    pub(crate) fn holds_empty_buffer_over(&mut self, keep: usize) -> bool {
        // As in `shrink`: the whole allocation is what is measured.
        self.assembly.is_empty() && {
            let _ = self.assembly.try_reclaim(keep.saturating_add(1));
            self.assembly.capacity() > keep
        }
    }

    /// Frees the reassembly buffer if it is empty and holds more than `keep` bytes.
    pub(crate) fn shrink(&mut self, keep: usize) {
        if !self.assembly.is_empty() {
            return;
        }
        // After a message was handed out, the buffer is a view past it whose capacity is only
        // what was left after it, 0 when the message filled it; if the message is gone, the
        // whole buffer comes back here, so that its real size is what is compared.
        let _ = self.assembly.try_reclaim(keep.saturating_add(1));
        if self.assembly.capacity() > keep {
            self.assembly = BytesMut::new();
        }
    }

    /// Decodes the next item from the front of `input`, consuming what it used.
    ///
    /// `Ok(None)` means more input is needed; whatever part of a frame has arrived was
    /// already unmasked and, for text, validated, so invalid UTF-8 fails here before its
    /// frame is complete. An error is final: the decoder must not be used again.
    #[cfg(test)]
    pub(crate) fn decode(
        &mut self,
        input: &mut BytesMut,
    ) -> Result<Option<Decoded>, ProtocolError> {
        Ok(self
            .decode_raw(input)?
            .map(|raw| self.take_owned(raw, input, 0)))
    }

    /// Consumes what the last borrowed item left in place.
    fn release(&mut self, input: &mut BytesMut) {
        if self.lent_input > 0 {
            input.advance(self.lent_input);
            self.lent_input = 0;
        }
        if self.lent_assembly {
            self.assembly.clear();
            self.lent_assembly = false;
        }
    }

    /// Turns a decoded item into owned values, consuming its bytes; `backing` is the size
    /// of the input's allocation.
    pub(crate) fn take_owned(&mut self, raw: Raw, input: &mut BytesMut, backing: usize) -> Decoded {
        match raw {
            Raw::Control(opcode, span) => Decoded::Control(opcode, span.take(input, backing)),
            Raw::Whole(kind, span) => Decoded::Message(message_of(kind, span.take(input, backing))),
            Raw::Assembled(kind) => {
                let payload = if pins_too_much(self.assembly.len(), self.assembly.capacity()) {
                    let copy = Bytes::copy_from_slice(&self.assembly);
                    self.assembly.clear();
                    copy
                } else {
                    self.assembly.split().freeze()
                };
                Decoded::Message(message_of(kind, payload))
            }
            Raw::Owned(decoded) => decoded,
        }
    }

    /// Lends a decoded item's bytes in place, to be consumed at the next call.
    pub(crate) fn lend<'a>(&'a mut self, raw: Raw, input: &'a BytesMut) -> DecodedRef<'a> {
        match raw {
            Raw::Control(opcode, span) => {
                self.lent_input = span.start + span.len;
                DecodedRef::Control(opcode, span.of(input))
            }
            Raw::Whole(kind, span) => {
                self.lent_input = span.start + span.len;
                DecodedRef::Message(message_ref(kind, span.of(input)))
            }
            Raw::Assembled(kind) => {
                self.lent_assembly = true;
                DecodedRef::Message(message_ref(kind, &self.assembly))
            }
            Raw::Owned(decoded) => DecodedRef::Owned(decoded),
        }
    }

    /// Decodes the next item, leaving single-frame payloads and reassembled messages where
    /// they are for [`take_owned`](Self::take_owned) or [`lend`](Self::lend).
    pub(crate) fn decode_raw(
        &mut self,
        input: &mut BytesMut,
    ) -> Result<Option<Raw>, ProtocolError> {
        self.release(input);
        if matches!(self.frame, FrameState::Header)
            && self.message.is_none()
            && let Some(raw) = self.whole_frame(input, false)?
        {
            return Ok(Some(raw));
        }
        loop {
            let FrameState::Payload {
                header,
                consumed,
                checked,
            } = self.frame
            else {
                let Some((header, n)) = FrameHeader::decode(input)? else {
                    return Ok(None);
                };
                self.accept_header(&header)?;
                input.advance(n);
                self.frame = FrameState::Payload {
                    header,
                    consumed: 0,
                    checked: 0,
                };
                continue;
            };
            let remaining = header.payload_len - consumed;
            let available = (input.len() as u64).min(remaining) as usize;
            if self.streams_into_assembly(&header) {
                let done = self.stream_fragment(&header, input, consumed, available);
                input.advance(available);
                if let Some(kind) = done? {
                    return Ok(Some(Raw::Assembled(kind)));
                }
                if matches!(self.frame, FrameState::Payload { .. }) {
                    return Ok(None);
                }
                continue;
            }
            if available > checked {
                self.check_payload(&header, &mut input[checked..available], consumed, checked)?;
                self.frame = FrameState::Payload {
                    header,
                    consumed,
                    checked: available,
                };
            }
            let control = header.opcode.is_control();
            if control || self.mode == ReceiveMode::Messages {
                if (available as u64) < remaining {
                    return Ok(None);
                }
                self.frame = FrameState::Header;
                if control {
                    return Ok(Some(Raw::Control(header.opcode, Span::at_front(available))));
                }
                match self.complete_frame(&header, &input[..available])? {
                    Complete::InPlace(kind) => {
                        return Ok(Some(Raw::Whole(kind, Span::at_front(available))));
                    }
                    Complete::Inflated(message) => {
                        input.advance(available);
                        return Ok(Some(Raw::Owned(Decoded::Message(message))));
                    }
                    Complete::Pending => input.advance(available),
                }
            } else {
                if available == 0 && remaining > 0 {
                    return Ok(None);
                }
                let data = input.split_to(available).freeze();
                return Ok(self.chunk(header, consumed, data)?.map(Raw::Owned));
            }
        }
    }

    /// The fast path of [`Connection`](crate::Connection): the next item if it is a whole
    /// small single-frame message (see `whole_frame`), consumed at the next call when
    /// borrowed; `None` leaves everything to [`decode_raw`](Self::decode_raw).
    #[inline]
    pub(crate) fn small_message(
        &mut self,
        input: &mut BytesMut,
    ) -> Result<Option<(MessageKind, Span)>, ProtocolError> {
        self.release(input);
        if !matches!(self.frame, FrameState::Header) || self.message.is_some() {
            return Ok(None);
        }
        Ok(match self.whole_frame(input, true)? {
            Some(Raw::Whole(kind, span)) => Some((kind, span)),
            _ => None,
        })
    }

    /// Lends a message found by [`small_message`](Self::small_message).
    #[inline]
    pub(crate) fn lend_small<'a>(
        &mut self,
        kind: MessageKind,
        span: Span,
        input: &'a [u8],
    ) -> MessageRef<'a> {
        self.lent_input = span.start + span.len;
        message_ref(kind, span.of(input))
    }

    /// Hands out a message found by [`small_message`](Self::small_message).
    #[inline]
    pub(crate) fn take_small(
        kind: MessageKind,
        span: Span,
        input: &mut BytesMut,
        backing: usize,
    ) -> Message {
        message_of(kind, span.take(input, backing))
    }

    /// The common case in one pass: a complete, unfragmented frame of at most 16 KiB
    /// with no RSV bits, masked the right way, at the front of the input, between
    /// messages. Anything else (including anything invalid) returns `None` and takes the
    /// general path, which applies every rule.
    ///
    /// With `data_only`, control frames are left alone too (untouched, for the general path).
    #[inline]
    fn whole_frame(
        &mut self,
        input: &mut BytesMut,
        data_only: bool,
    ) -> Result<Option<Raw>, ProtocolError> {
        let [b0, b1, ..] = input[..] else {
            return Ok(None);
        };
        let masked = b1 & 0x80 != 0;
        // FIN set, RSV clear, the expected masking.
        if b0 & 0xF0 != 0x80 || masked != self.expect_masked {
            return Ok(None);
        }
        // A 7-bit length, or a 16-bit one (data frames only: a control frame that long is
        // an error, which the general path reports) up to the unmasking block, so that a
        // text payload is still in cache when it is validated after unmasking.
        let (len, len_end) = match b1 & 0x7F {
            126 => match input.get(2..4) {
                Some(&[hi, lo]) if b0 & 0x08 == 0 => (usize::from(u16::from_be_bytes([hi, lo])), 4),
                _ => return Ok(None),
            },
            127 => return Ok(None),
            short => (usize::from(short), 2),
        };
        if len > UNMASK_BLOCK {
            return Ok(None);
        }
        let header_len = if masked { len_end + 4 } else { len_end };
        let Some(frame) = input.get_mut(..header_len + len) else {
            return Ok(None);
        };
        let opcode = match b0 & 0x0F {
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return Ok(None),
        };
        let is_data = !opcode.is_control();
        // Frames mode hands data out as chunks, which the general path builds.
        if (data_only && !is_data) || (is_data && self.mode != ReceiveMode::Messages) {
            return Ok(None);
        }
        if is_data
            && (len > self.max_frame_size || len > self.max_message_size || self.max_fragments == 0)
        {
            return Ok(None);
        }
        let (head, payload) = frame.split_at_mut(header_len);
        if let [.., k0, k1, k2, k3] = *head
            && masked
        {
            apply_mask(payload, [k0, k1, k2, k3], 0);
        }
        if opcode == OpCode::Text {
            let mut utf8 = Utf8Validator::new();
            utf8.feed(payload)
                .and_then(|()| utf8.finish())
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        // The header stays until the payload is consumed: one advance per frame.
        let span = Span {
            start: header_len,
            len,
        };
        Ok(Some(match opcode {
            OpCode::Text => Raw::Whole(MessageKind::Text, span),
            OpCode::Binary => Raw::Whole(MessageKind::Binary, span),
            control => Raw::Control(control, span),
        }))
    }

    /// A fragment of an uncompressed message in messages mode: its bytes go straight into
    /// the reassembly buffer as they arrive, unmasked in the copy and validated block by
    /// block from there, so reassembly costs no extra pass over the data and a large
    /// fragmented message is not held twice.
    fn streams_into_assembly(&self, header: &FrameHeader) -> bool {
        self.mode == ReceiveMode::Messages
            && !header.opcode.is_control()
            && (!header.fin || header.opcode == OpCode::Continuation)
            && self.message.is_some_and(|m| !m.compressed)
    }

    /// Moves the `available` payload bytes at the front of `input` (the fragment's bytes
    /// from `consumed` on) into the assembly; the caller consumes them from `input`. Returns
    /// the kind of the message when this ends it.
    fn stream_fragment(
        &mut self,
        header: &FrameHeader,
        input: &[u8],
        consumed: u64,
        available: usize,
    ) -> Result<Option<MessageKind>, ProtocolError> {
        if self.assembly.is_empty() {
            // A new message. After one was handed out, the buffer is a view past it with
            // only what was left after it: take the whole buffer back if that message is gone,
            // rather than fill the rest and copy it to the front when the rest runs out.
            let _ = self.assembly.try_reclaim(self.assembly.capacity() + 1);
        }
        // Room only for bytes that have arrived, whatever the header declares: growing
        // by doubling keeps the copies O(n), and a peer cannot make the decoder reserve
        // memory for bytes it has not sent.
        self.assembly.reserve(available);
        // Block by block: copy into the assembly, unmask, and validate the copy while it is
        // still in the cache. The input is only read.
        let mut done = 0;
        while done < available {
            let n = UNMASK_BLOCK.min(available - done);
            let start = self.assembly.len();
            let src = &input[done..done + n];
            match header.mask {
                Some(key) => extend_unmasked(
                    &mut self.assembly,
                    src,
                    key,
                    (consumed as usize).wrapping_add(done),
                ),
                None => self.assembly.extend_from_slice(src),
            }
            if let Some(utf8) = text_validator(&mut self.message, header) {
                utf8.feed(&self.assembly[start..])
                    .map_err(|_| ProtocolError::InvalidUtf8)?;
            }
            done += n;
        }
        let consumed = consumed + available as u64;
        if consumed < header.payload_len {
            self.frame = FrameState::Payload {
                header: *header,
                consumed,
                checked: 0,
            };
            return Ok(None);
        }
        self.frame = FrameState::Header;
        if !header.fin {
            return Ok(None);
        }
        let Some(message) = self.message.take() else {
            return Err(ProtocolError::ContinuationWithoutMessage);
        };
        Self::check_end(&message)?;
        Ok(Some(message.kind))
    }

    /// Applies every rule a header can be judged by, before any of its payload is read.
    fn accept_header(&mut self, header: &FrameHeader) -> Result<(), ProtocolError> {
        let rsv1_ok = self.rsv1_claimed && matches!(header.opcode, OpCode::Text | OpCode::Binary);
        if (header.rsv1 && !rsv1_ok) || header.rsv2 || header.rsv3 {
            return Err(ProtocolError::ReservedBits {
                bits: (u8::from(header.rsv1) << 2)
                    | (u8::from(header.rsv2) << 1)
                    | u8::from(header.rsv3),
            });
        }
        if header.mask.is_some() != self.expect_masked {
            return Err(if self.expect_masked {
                ProtocolError::UnmaskedFrame
            } else {
                ProtocolError::MaskedFrame
            });
        }
        if header.opcode.is_control() {
            if !header.fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            if header.payload_len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(ProtocolError::ControlFrameTooLong(header.payload_len));
            }
            return Ok(());
        }
        if header.payload_len > self.max_frame_size as u64 {
            return Err(ProtocolError::FrameTooLarge {
                len: header.payload_len,
                max: self.max_frame_size,
            });
        }
        let message = match (header.opcode, &mut self.message) {
            (OpCode::Continuation, Some(message)) => message,
            (OpCode::Continuation, None) => return Err(ProtocolError::ContinuationWithoutMessage),
            (_, Some(_)) => return Err(ProtocolError::DataFrameInsideMessage),
            (opcode, message @ None) => message.insert(InProgress {
                kind: if opcode == OpCode::Text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                },
                compressed: header.rsv1,
                utf8: Utf8Validator::new(),
                inflated_len: 0,
                len: 0,
                fragments: 0,
            }),
        };
        message.fragments += 1;
        message.len += header.payload_len;
        // A compressed message is limited by its inflated size, checked while inflating; its
        // compressed bytes may exceed the limit by deflate's few bytes of overhead.
        if !message.compressed && message.len > self.max_message_size as u64 {
            return Err(ProtocolError::MessageTooLarge {
                len: message.len,
                max: self.max_message_size,
            });
        }
        if message.fragments > self.max_fragments {
            return Err(ProtocolError::TooManyFragments {
                max: self.max_fragments,
            });
        }
        Ok(())
    }

    /// Unmasks newly arrived payload bytes in place and validates them if they are text.
    #[inline]
    fn check_payload(
        &mut self,
        header: &FrameHeader,
        new: &mut [u8],
        consumed: u64,
        checked: usize,
    ) -> Result<(), ProtocolError> {
        let offset = (consumed as usize).wrapping_add(checked);
        let Some(utf8) = text_validator(&mut self.message, header) else {
            if let Some(key) = header.mask {
                // Only the position modulo 4 matters, so truncating `consumed` is harmless.
                apply_mask(new, key, offset);
            }
            return Ok(());
        };
        // Unmask and validate block by block, so each block is validated while it is still
        // in the L1/L2 cache from unmasking. Blocks are a multiple of 4: the key phase is
        // the same at every block start.
        for (i, block) in new.chunks_mut(UNMASK_BLOCK).enumerate() {
            if let Some(key) = header.mask {
                apply_mask(block, key, offset.wrapping_add(i * UNMASK_BLOCK));
            }
            utf8.feed(block).map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }

    /// A whole data frame has arrived (messages mode): say whether it ends a message.
    fn complete_frame(
        &mut self,
        header: &FrameHeader,
        payload: &[u8],
    ) -> Result<Complete, ProtocolError> {
        let Some(message) = self.message else {
            // accept_header guarantees a message for every data frame.
            return Err(ProtocolError::ContinuationWithoutMessage);
        };
        #[cfg(feature = "deflate")]
        if message.compressed {
            let mut inflated = self
                .inflater
                .as_mut()
                .map(|i| core::mem::take(&mut i.message))
                .unwrap_or_default();
            self.inflate(payload, header.fin, &mut inflated)?;
            // The UTF-8 state advanced while inflating.
            let message = self.message.unwrap_or(message);
            if !header.fin {
                if let Some(inflater) = &mut self.inflater {
                    inflater.message = inflated;
                }
                return Ok(Complete::Pending);
            }
            self.message = None;
            Self::check_end(&message)?;
            return Ok(Complete::Inflated(message_of(
                message.kind,
                Bytes::from(inflated),
            )));
        }
        #[cfg(not(feature = "deflate"))]
        let _ = (header, payload);
        // Fragments stream into the assembly buffer instead; what reaches here is a whole
        // single-frame message, handed out as the payload slice itself: no copy.
        self.message = None;
        Self::check_end(&message)?;
        Ok(Complete::InPlace(message.kind))
    }

    /// Inflates one frame's payload of a compressed message onto `out`, bounded by the
    /// message size limit, and validates the new text.
    #[cfg(feature = "deflate")]
    fn inflate(
        &mut self,
        payload: &[u8],
        last: bool,
        out: &mut alloc::vec::Vec<u8>,
    ) -> Result<(), ProtocolError> {
        use crate::deflate::InflateError;
        let (Some(inflater), Some(message)) = (&mut self.inflater, &mut self.message) else {
            return Err(ProtocolError::ReservedBits { bits: 0b100 });
        };
        let start = out.len();
        let limit = start.saturating_add(self.max_message_size - message.inflated_len);
        inflater
            .inflate(payload, last, out, limit)
            .map_err(|e| match e {
                InflateError::Corrupt => ProtocolError::InvalidCompressedData,
                InflateError::TooLarge => ProtocolError::MessageTooLarge {
                    len: (message.inflated_len + out.len() - start) as u64,
                    max: self.max_message_size,
                },
            })?;
        message.inflated_len += out.len() - start;
        if message.kind == MessageKind::Text {
            message
                .utf8
                .feed(&out[start..])
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }

    /// A text message must not end inside a code point.
    fn check_end(message: &InProgress) -> Result<(), ProtocolError> {
        if message.kind == MessageKind::Text {
            message
                .utf8
                .finish()
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }

    /// Hands out the checked bytes of a data frame (frames mode).
    fn chunk(
        &mut self,
        header: FrameHeader,
        consumed: u64,
        data: Bytes,
    ) -> Result<Option<Decoded>, ProtocolError> {
        let consumed_now = consumed + data.len() as u64;
        let is_last = consumed_now == header.payload_len;
        let Some(message) = self.message else {
            return Err(ProtocolError::ContinuationWithoutMessage);
        };
        #[cfg(feature = "deflate")]
        let data = if message.compressed {
            let mut out = alloc::vec::Vec::new();
            self.inflate(&data, is_last && header.fin, &mut out)?;
            Bytes::from(out)
        } else {
            data
        };
        // The UTF-8 state advanced while inflating.
        let message = self.message.unwrap_or(message);
        if is_last {
            self.frame = FrameState::Header;
            if header.fin {
                self.message = None;
                if message.kind == MessageKind::Text {
                    message
                        .utf8
                        .finish()
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                }
            }
        } else {
            self.frame = FrameState::Payload {
                header,
                consumed: consumed_now,
                checked: 0,
            };
        }
        Ok(Some(Decoded::Chunk(FrameChunk {
            header,
            kind: message.kind,
            offset: consumed,
            data,
            is_last,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FrameHeader;
    use alloc::vec::Vec;

    fn frame(opcode: OpCode, fin: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
        let header = FrameHeader {
            fin,
            mask,
            ..FrameHeader::new(opcode, payload.len() as u64)
        };
        let (buf, n) = header.encode();
        let mut out = buf[..n].to_vec();
        let start = out.len();
        out.extend_from_slice(payload);
        if let Some(key) = mask {
            apply_mask(&mut out[start..], key, 0);
        }
        out
    }

    const KEY: Option<[u8; 4]> = Some([1, 2, 3, 4]);

    fn server() -> Decoder {
        Decoder::new(Role::Server, &Config::default())
    }

    fn decode_all(decoder: &mut Decoder, bytes: &[u8]) -> Result<Vec<Decoded>, ProtocolError> {
        let mut input = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(item) = decoder.decode(&mut input)? {
            out.push(item);
        }
        Ok(out)
    }

    #[test]
    fn fragments_are_reassembled_with_control_frames_between() {
        let mut bytes = frame(OpCode::Text, false, b"Hel", KEY);
        bytes.extend(frame(OpCode::Ping, true, b"p", KEY));
        bytes.extend(frame(OpCode::Continuation, true, b"lo", KEY));
        let items = decode_all(&mut server(), &bytes).unwrap();
        assert_eq!(
            items,
            [
                Decoded::Control(OpCode::Ping, Bytes::from_static(b"p")),
                Decoded::Message(Message::Text(Utf8Bytes::from_static("Hello"))),
            ]
        );
    }

    #[test]
    fn single_frame_message_is_not_copied() {
        let bytes = frame(OpCode::Binary, true, &[7; 100], KEY);
        let mut input = BytesMut::from(&bytes[..]);
        let payload_addr = input.as_ptr() as usize + 6;
        let Some(Decoded::Message(Message::Binary(b))) = server().decode(&mut input).unwrap()
        else {
            panic!()
        };
        assert_eq!(b.as_ptr() as usize, payload_addr);
    }

    #[test]
    fn frames_with_16_bit_lengths_keep_every_rule_on_the_fast_path() {
        let payload: Vec<u8> = (0..1000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let got = decode_all(&mut server(), &frame(OpCode::Binary, true, &payload, KEY)).unwrap();
        assert_eq!(
            got,
            [Decoded::Message(Message::Binary(Bytes::from(
                payload.clone()
            )))]
        );
        let mut bad_text = payload.clone();
        bad_text[999] = 0xFF;
        assert_eq!(
            decode_all(&mut server(), &frame(OpCode::Text, true, &bad_text, KEY)),
            Err(ProtocolError::InvalidUtf8)
        );
        assert_eq!(
            decode_all(&mut server(), &frame(OpCode::Ping, true, &payload, KEY)),
            Err(ProtocolError::ControlFrameTooLong(1000))
        );
        let small = Config {
            max_frame_size: 999,
            ..Config::default()
        };
        assert!(matches!(
            decode_all(
                &mut Decoder::new(Role::Server, &small),
                &frame(OpCode::Binary, true, &payload, KEY)
            ),
            Err(ProtocolError::FrameTooLarge { len: 1000, .. })
        ));
        assert_eq!(
            decode_all(&mut server(), &frame(OpCode::Binary, true, &payload, None)),
            Err(ProtocolError::UnmaskedFrame)
        );
    }

    #[test]
    fn a_message_ends_at_its_last_fragment_and_the_next_frame_stays() {
        let mut data = frame(OpCode::Text, false, "κό".as_bytes(), KEY);
        data.extend(frame(
            OpCode::Continuation,
            false,
            &"σμε".as_bytes()[..3],
            KEY,
        ));
        data.extend(frame(
            OpCode::Continuation,
            true,
            &"σμε".as_bytes()[3..],
            KEY,
        ));
        let after = frame(OpCode::Text, true, b"next", KEY);
        data.extend(&after);
        let mut decoder = server();
        let mut input = BytesMut::from(&data[..]);
        assert_eq!(
            decoder.decode(&mut input).unwrap(),
            Some(Decoded::Message(Message::Text("κόσμε".into())))
        );
        assert_eq!(input[..], after[..]);
        assert_eq!(
            decoder.decode(&mut input).unwrap(),
            Some(Decoded::Message(Message::Text("next".into())))
        );
    }

    #[test]
    fn unmasked_frame_from_client_is_a_protocol_error() {
        let bytes = frame(OpCode::Text, true, b"hi", None);
        assert_eq!(
            decode_all(&mut server(), &bytes),
            Err(ProtocolError::UnmaskedFrame)
        );
    }

    #[test]
    fn masked_frame_from_server_is_a_protocol_error() {
        let bytes = frame(OpCode::Text, true, b"hi", KEY);
        let mut client = Decoder::new(Role::Client, &Config::default());
        assert_eq!(
            decode_all(&mut client, &bytes),
            Err(ProtocolError::MaskedFrame)
        );
    }

    #[test]
    fn rsv_bits_without_extension_are_a_protocol_error() {
        for (bit, bits) in [(0x40u8, 0b100u8), (0x20, 0b010), (0x10, 0b001)] {
            let mut bytes = frame(OpCode::Text, true, b"hi", KEY);
            bytes[0] |= bit;
            assert_eq!(
                decode_all(&mut server(), &bytes),
                Err(ProtocolError::ReservedBits { bits })
            );
        }
    }

    #[test]
    fn fragmented_control_frame_is_a_protocol_error() {
        let bytes = frame(OpCode::Ping, false, b"", KEY);
        assert_eq!(
            decode_all(&mut server(), &bytes),
            Err(ProtocolError::FragmentedControlFrame)
        );
    }

    #[test]
    fn control_frame_over_125_bytes_is_a_protocol_error() {
        let bytes = frame(OpCode::Ping, true, &[0; 126], KEY);
        assert_eq!(
            decode_all(&mut server(), &bytes),
            Err(ProtocolError::ControlFrameTooLong(126))
        );
    }

    #[test]
    fn continuation_without_message_is_a_protocol_error() {
        let bytes = frame(OpCode::Continuation, true, b"x", KEY);
        assert_eq!(
            decode_all(&mut server(), &bytes),
            Err(ProtocolError::ContinuationWithoutMessage)
        );
    }

    #[test]
    fn data_frame_inside_fragmented_message_is_a_protocol_error() {
        let mut bytes = frame(OpCode::Text, false, b"a", KEY);
        bytes.extend(frame(OpCode::Binary, true, b"b", KEY));
        assert_eq!(
            decode_all(&mut server(), &bytes),
            Err(ProtocolError::DataFrameInsideMessage)
        );
    }

    #[test]
    fn invalid_utf8_fails_before_the_frame_is_complete() {
        let bytes = frame(OpCode::Text, true, b"ok\xff and much more text", KEY);
        // Only the header and the first 3 payload bytes have arrived.
        let mut input = BytesMut::from(&bytes[..2 + 4 + 3]);
        assert_eq!(server().decode(&mut input), Err(ProtocolError::InvalidUtf8));
    }

    #[test]
    fn text_ending_inside_a_code_point_is_invalid() {
        let mut bytes = frame(OpCode::Text, false, "€".as_bytes().split_at(2).0, KEY);
        bytes.extend(frame(OpCode::Continuation, true, b"", KEY));
        assert_eq!(
            decode_all(&mut server(), &bytes),
            Err(ProtocolError::InvalidUtf8)
        );
    }

    #[test]
    fn code_point_may_straddle_fragments() {
        let euro = "€".as_bytes();
        let mut bytes = frame(OpCode::Text, false, &euro[..1], KEY);
        bytes.extend(frame(OpCode::Continuation, false, &euro[1..2], KEY));
        bytes.extend(frame(OpCode::Continuation, true, &euro[2..], KEY));
        let items = decode_all(&mut server(), &bytes).unwrap();
        assert_eq!(
            items,
            [Decoded::Message(Message::Text(Utf8Bytes::from_static("€")))]
        );
    }

    #[test]
    fn frame_over_limit_fails_at_its_header() {
        let config = Config {
            max_frame_size: 10,
            ..Config::default()
        };
        let header = FrameHeader {
            mask: KEY,
            ..FrameHeader::new(OpCode::Binary, 11)
        };
        let (buf, n) = header.encode();
        let mut decoder = Decoder::new(Role::Server, &config);
        assert_eq!(
            decoder.decode(&mut BytesMut::from(&buf[..n])),
            Err(ProtocolError::FrameTooLarge { len: 11, max: 10 })
        );
    }

    #[test]
    fn message_over_limit_fails_at_the_header_that_crosses_it() {
        let config = Config {
            max_message_size: 10,
            ..Config::default()
        };
        let mut bytes = frame(OpCode::Binary, false, &[0; 6], KEY);
        bytes.extend(frame(OpCode::Continuation, true, &[0; 5], KEY));
        let mut decoder = Decoder::new(Role::Server, &config);
        assert_eq!(
            decode_all(&mut decoder, &bytes),
            Err(ProtocolError::MessageTooLarge { len: 11, max: 10 })
        );
    }

    #[test]
    fn too_many_fragments_is_an_error() {
        let config = Config {
            max_fragments: 3,
            ..Config::default()
        };
        let mut bytes = frame(OpCode::Binary, false, b"", KEY);
        for _ in 0..3 {
            bytes.extend(frame(OpCode::Continuation, false, b"", KEY));
        }
        let mut decoder = Decoder::new(Role::Server, &config);
        assert_eq!(
            decode_all(&mut decoder, &bytes),
            Err(ProtocolError::TooManyFragments { max: 3 })
        );
    }

    /// The first fragment of a text message of `first` bytes, a ping, then continuation
    /// frames of `rest` bytes each, the last one final; then a whole binary message.
    fn fragmented_then_binary(first: usize, rest: &[usize]) -> Vec<u8> {
        let mut bytes = frame(OpCode::Text, false, &alloc::vec![b'a'; first], KEY);
        bytes.extend(frame(OpCode::Ping, true, b"p", KEY));
        for (i, &len) in rest.iter().enumerate() {
            let fin = i + 1 == rest.len();
            bytes.extend(frame(
                OpCode::Continuation,
                fin,
                &alloc::vec![b'b'; len],
                KEY,
            ));
        }
        bytes.extend(frame(OpCode::Binary, true, &[0; 5000], KEY));
        bytes
    }

    #[test]
    fn reassembly_reserves_room_for_a_fragment_as_it_is_decoded() {
        let bytes = fragmented_then_binary(1000, &[2000, 3000]);
        let mut decoder = server();
        let mut input = BytesMut::from(&bytes[..]);
        // The ping comes out after the first fragment went into the reassembly buffer.
        assert!(matches!(
            decoder.decode(&mut input),
            Ok(Some(Decoded::Control(OpCode::Ping, _)))
        ));
        // Room for the first fragment only: the others are taken as the decoder reaches them.
        assert!(decoder.assembly.capacity() < 2000);
        let Ok(Some(Decoded::Message(message))) = decoder.decode(&mut input) else {
            panic!()
        };
        assert_eq!(message.as_bytes().len(), 6000);
    }

    #[test]
    fn reassembly_reserves_only_bytes_that_arrived_whatever_the_header_declares() {
        // A continuation frame that declares 1 TiB, of which 10 bytes arrived.
        let mut bytes = frame(OpCode::Text, false, &[b'a'; 1000], KEY);
        let header = FrameHeader {
            fin: true,
            mask: KEY,
            ..FrameHeader::new(OpCode::Continuation, 1 << 40)
        };
        let (buf, n) = header.encode();
        bytes.extend_from_slice(&buf[..n]);
        bytes.extend_from_slice(&[b'b'; 10]);
        let mut decoder = server();
        let mut input = BytesMut::from(&bytes[..]);
        assert!(matches!(
            decoder.decode(&mut input),
            Err(ProtocolError::FrameTooLarge { .. })
        ));
        // What arrived, grown by doubling at most.
        assert!(decoder.assembly.capacity() <= 2 * 1010);
    }

    #[test]
    fn reassembly_reserves_only_bytes_of_the_frame_that_arrived() {
        let bytes = fragmented_then_binary(1000, &[2000]);
        let mut decoder = server();
        // The first fragment's header (16-bit length, masked) and 300 of its bytes.
        let mut input = BytesMut::from(&bytes[..4 + 4 + 300]);
        assert_eq!(decoder.decode(&mut input), Ok(None));
        assert_eq!(decoder.assembly.capacity(), 300);
    }

    #[test]
    fn reassembly_reserves_no_more_than_the_message_limit() {
        let config = Config {
            max_message_size: 1500,
            ..Config::default()
        };
        let bytes = fragmented_then_binary(1000, &[1000]);
        let mut decoder = Decoder::new(Role::Server, &config);
        let mut input = BytesMut::from(&bytes[..]);
        assert!(matches!(
            decoder.decode(&mut input),
            Ok(Some(Decoded::Control(OpCode::Ping, _)))
        ));
        assert!(decoder.assembly.capacity() < 1500);
        assert!(matches!(
            decoder.decode(&mut input),
            Err(ProtocolError::MessageTooLarge { .. })
        ));
    }

    #[test]
    fn reassembly_stops_at_the_fragment_limit() {
        let config = Config {
            max_fragments: 2,
            ..Config::default()
        };
        let bytes = fragmented_then_binary(1000, &[1000, 1000]);
        let mut decoder = Decoder::new(Role::Server, &config);
        let mut input = BytesMut::from(&bytes[..]);
        assert!(matches!(
            decoder.decode(&mut input),
            Ok(Some(Decoded::Control(OpCode::Ping, _)))
        ));
        // The first fragment only: the decoder looks at no header before it gets there.
        assert!(decoder.assembly.capacity() < 2000);
        assert!(matches!(
            decoder.decode(&mut input),
            Err(ProtocolError::TooManyFragments { max: 2 })
        ));
    }

    #[test]
    fn reassembly_in_pieces_grows_to_a_size_that_fits_the_message() {
        // 1 MiB in 64 fragments, read 64 KiB at a time: the buffer grows by doubling, to
        // sizes that end at 1 MiB exactly rather than just short of it.
        let payload = alloc::vec![b'x'; 16 * 1024];
        let mut bytes = Vec::new();
        for i in 0..64 {
            let opcode = if i == 0 {
                OpCode::Text
            } else {
                OpCode::Continuation
            };
            bytes.extend(frame(opcode, i == 63, &payload, KEY));
        }
        let mut decoder = server();
        let mut input = BytesMut::new();
        let mut message = None;
        for read in bytes.chunks(64 * 1024) {
            input.extend_from_slice(read);
            while let Some(item) = decoder.decode(&mut input).unwrap() {
                message = Some(item);
            }
        }
        let Some(Decoded::Message(message)) = message else {
            panic!()
        };
        assert_eq!(message.as_bytes().len(), 1 << 20);
        // Nothing left after the message in its buffer: it was exactly 1 MiB.
        assert_eq!(decoder.assembly.capacity(), 0);
    }

    #[test]
    fn next_message_reuses_the_buffer_of_a_dropped_one() {
        let bytes = fragmented_then_binary(1000, &[2000, 3000]);
        let mut decoder = server();
        let mut input = BytesMut::from(&bytes[..]);
        let _ping = decoder.decode(&mut input).unwrap();
        let Ok(Some(Decoded::Message(first))) = decoder.decode(&mut input) else {
            panic!()
        };
        let first_at = first.as_bytes().as_ptr();
        drop(first);
        let _binary = decoder.decode(&mut input).unwrap();
        let mut input = BytesMut::from(&fragmented_then_binary(1000, &[2000])[..]);
        let _ping = decoder.decode(&mut input).unwrap();
        assert_eq!(decoder.assembly.as_ptr(), first_at);
    }

    #[test]
    fn shrink_frees_the_buffer_of_a_dropped_message() {
        let bytes = fragmented_then_binary(1000, &[2000, 3000]);
        let mut decoder = server();
        let mut input = BytesMut::from(&bytes[..]);
        let _ping = decoder.decode(&mut input).unwrap();
        let Ok(Some(Decoded::Message(message))) = decoder.decode(&mut input) else {
            panic!()
        };
        // The message filled its buffer: the view past it has no capacity of its own.
        assert_eq!(decoder.assembly.capacity(), 0);
        drop(message);
        decoder.shrink(0);
        // The whole buffer came back and went, instead of staying behind a 0-byte view.
        let _ = decoder.assembly.try_reclaim(1);
        assert_eq!(decoder.assembly.capacity(), 0);
    }

    #[test]
    fn fragments_unmasked_into_the_assembly_keep_the_key_phase() {
        // Fragments of lengths that are not multiples of 4, arriving in odd-sized reads, so
        // that blocks and reads start at every key phase.
        let text: Vec<u8> = "κόσμε 🚀 ".repeat(5000).into_bytes();
        let mut bytes = Vec::new();
        let pieces: Vec<&[u8]> = text.chunks(17_001).collect();
        for (i, piece) in pieces.iter().enumerate() {
            let opcode = if i == 0 {
                OpCode::Text
            } else {
                OpCode::Continuation
            };
            bytes.extend(frame(opcode, i + 1 == pieces.len(), piece, KEY));
        }
        let mut decoder = server();
        let mut input = BytesMut::new();
        let mut got = None;
        for read in bytes.chunks(4093) {
            input.extend_from_slice(read);
            while let Some(item) = decoder.decode(&mut input).unwrap() {
                got = Some(item);
            }
        }
        let Some(Decoded::Message(Message::Text(got))) = got else {
            panic!()
        };
        assert_eq!(got.as_bytes(), &text[..]);
    }

    #[test]
    fn frame_mode_hands_out_pieces_as_they_arrive() {
        let config = Config {
            receive_mode: ReceiveMode::Frames,
            ..Config::default()
        };
        let mut decoder = Decoder::new(Role::Server, &config);
        let bytes = frame(OpCode::Text, true, b"Hello", KEY);
        let mut input = BytesMut::from(&bytes[..8]);
        let Some(Decoded::Chunk(first)) = decoder.decode(&mut input).unwrap() else {
            panic!()
        };
        assert_eq!(
            (first.offset, &first.data[..], first.is_last),
            (0, &b"He"[..], false)
        );
        assert_eq!(decoder.decode(&mut input), Ok(None));
        input.extend_from_slice(&bytes[8..]);
        let Some(Decoded::Chunk(rest)) = decoder.decode(&mut input).unwrap() else {
            panic!()
        };
        assert_eq!((rest.offset, &rest.data[..]), (2, &b"llo"[..]));
        assert!(rest.ends_message());
    }
}
