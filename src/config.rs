//! Connection settings: limits against hostile peers, receive mode, automatic replies and
//! timers.

use core::time::Duration;

/// Which side of the connection this endpoint is. Clients mask the frames they send and
/// require unmasked frames; servers the other way round (RFC 6455 §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Opened the connection; sends masked frames.
    Client,
    /// Accepted the connection; sends unmasked frames and closes the transport first.
    Server,
}

/// How received data frames are handed to the application.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReceiveMode {
    /// Reassemble fragments and deliver whole [`Message`](crate::Message)s.
    #[default]
    Messages,
    /// Deliver each data frame's payload in [`FrameChunk`](crate::FrameChunk)s as the bytes
    /// arrive, without reassembly (for proxies, and for messages too large to buffer). The
    /// same checks apply: UTF-8 of text, continuation order, limits.
    Frames,
}

/// Keepalive: ping a quiet peer, and give up on one that stays silent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Send a ping once the peer has been silent for at least this long. The connection
    /// learns that bytes arrived, not when, so it looks at every `interval`: a ping goes out
    /// between one and two intervals after the last byte received.
    pub interval: Duration,
    /// Fail the connection (close code 1011) when nothing at all arrives within this long
    /// after that ping.
    pub timeout: Duration,
}

/// Settings for a [`Connection`](crate::Connection).
///
/// The defaults suit a general-purpose server: large enough for Autobahn's 16 MiB messages,
/// bounded against a peer that declares a huge frame or never finishes a message.
///
/// ```
/// use sockless::Config;
/// use core::time::Duration;
/// let mut config = Config::default();
/// config.max_message_size = 1 << 20;
/// config.close_timeout = Some(Duration::from_secs(2));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The largest frame payload accepted (default 16 MiB); a larger one fails with 1009
    /// as soon as its header arrives. In [`ReceiveMode::Messages`] a frame is buffered whole,
    /// so this bounds the input buffer.
    pub max_frame_size: usize,
    /// The largest message accepted, counted over all its fragments (default 64 MiB);
    /// fails with 1009 as soon as a frame header would take the message past it.
    pub max_message_size: usize,
    /// The most frames one message may span (default 131 072), so that a peer cannot keep
    /// a message open forever with empty fragments. Over it: 1009.
    pub max_fragments: usize,
    /// How many received bytes may be held beyond one whole frame before they are decoded
    /// (default 1 MiB): the input buffer holds at most `max_frame_size` plus a frame header
    /// plus this. Decoding needs at most one frame plus one read, so a driver that polls
    /// events after every read never reaches it, whatever `max_frame_size` allows; one that
    /// hands over more without polling fails the connection with 1009 rather than
    /// buffering without bound.
    pub max_buffered_input: usize,
    /// Answer pings with a pong carrying the same payload (default on). Pongs coalesce: while
    /// a pong is still waiting to be written, a newer ping replaces it (RFC 6455 §5.5.3), so
    /// a ping flood from a peer that does not read owes it one pong, not one per ping.
    pub auto_pong: bool,
    /// Messages (default) or frame chunks.
    pub receive_mode: ReceiveMode,
    /// Keepalive pings and the silent-peer timeout (default off).
    pub keepalive: Option<Keepalive>,
    /// How long the closing handshake may take once a close frame was sent, and how long a
    /// client waits for the server to close the transport after it (default 10 s).
    pub close_timeout: Option<Duration>,
    /// How long the opening handshake may take, from the connection's creation until it is
    /// open (default 10 s): a server closes the transport without an answer, a client fails
    /// with [`Error::HandshakeTimeout`](crate::Error::HandshakeTimeout). A peer that sends its
    /// head a byte at a time cannot hold a connection open longer than this.
    pub handshake_timeout: Option<Duration>,
    /// Bounds on the HTTP head of the opening handshake.
    pub handshake_limits: crate::handshake::Limits,
    /// Above this many bytes owed to the transport (default 1 MiB),
    /// [`Connection::wants_read`](crate::Connection::wants_read) turns false: the driver
    /// should stop reading until the output drains, so that a peer that sends without
    /// reading cannot make the connection owe it without bound.
    pub outbound_high_water: usize,
    /// The most bytes that may be owed to the transport (default 128 MiB): a send that
    /// would pass it is refused with [`SendError::OutboundFull`](crate::SendError::OutboundFull)
    /// and queues nothing. Replies the connection owes (one pong for the latest ping, a
    /// close frame) are never refused.
    pub max_pending_outbound: usize,
    /// permessage-deflate: offered by a client, accepted by a server (default off: it
    /// costs up to 420 KiB per connection, see [`deflate`](crate::deflate)).
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::deflate::DeflateConfig>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            max_fragments: 1 << 17,
            max_buffered_input: 1 << 20,
            auto_pong: true,
            receive_mode: ReceiveMode::Messages,
            keepalive: None,
            close_timeout: Some(Duration::from_secs(10)),
            handshake_timeout: Some(Duration::from_secs(10)),
            handshake_limits: crate::handshake::Limits::default(),
            outbound_high_water: 1 << 20,
            max_pending_outbound: 128 << 20,
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }
}

impl Config {
    /// The most input bytes a connection buffers: one whole frame (data or control) with
    /// its header, plus
    /// [`max_buffered_input`](Self::max_buffered_input).
    pub(crate) fn input_limit(&self) -> usize {
        // A control frame of up to 125 bytes is accepted whatever `max_frame_size` says.
        self.max_frame_size
            .max(crate::frame::MAX_CONTROL_PAYLOAD)
            .saturating_add(crate::frame::MAX_HEADER_LEN)
            .saturating_add(self.max_buffered_input)
    }
}
