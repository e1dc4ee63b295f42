//! The load generator of `e2e.sh`: N connections to one echo server on loopback, each sending
//! a binary message of S bytes and waiting for its echo before sending the next, for a fixed
//! time; prints the echoes per second over all connections.
//!
//! ```text
//! loadgen ADDR CONNECTIONS SIZE SECONDS
//! loadgen 127.0.0.1:9001 100 20 5
//! ```
//!
//! The same client for every server: a sockless client on a tokio current-thread runtime (one
//! core, as each server has one), a task per connection. Every echo is compared with what was
//! sent. The connections are all open before the clock starts; echoes are counted over
//! `SECONDS` after a warm-up of [`WARM_UP`]; then each connection closes cleanly. Only
//! loopback addresses are accepted, and the run ends by itself.
//!
//! Prints one line: `conns= size= seconds= echoes= msgs_per_sec= all_echoes=`, where
//! `all_echoes` includes the warm-up (to divide the server's CPU time by).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sockless::handshake::{ClientOptions, Uri};
use sockless::{CloseCode, Config, Connection, Event, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Echoes in this first stretch are not counted.
const WARM_UP: Duration = Duration::from_millis(500);

/// The longest a run may take beyond its warm-up and measured time before it is abandoned.
const GRACE: Duration = Duration::from_secs(10);

/// How long to wait, at most, for a connection, a handshake or an echo.
const STEP_TIMEOUT: Duration = Duration::from_secs(5);

const USAGE: &str = "usage: loadgen ADDR CONNECTIONS SIZE SECONDS (ADDR on loopback)";

struct Args {
    addr: SocketAddr,
    connections: usize,
    size: usize,
    seconds: f64,
}

fn args() -> Result<Args, BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, connections, size, seconds] = &args[..] else {
        return Err(USAGE.into());
    };
    let args = Args {
        addr: addr.parse()?,
        connections: connections.parse()?,
        size: size.parse()?,
        seconds: seconds.parse()?,
    };
    if !args.addr.ip().is_loopback() {
        return Err(format!("{}: not a loopback address. {USAGE}", args.addr).into());
    }
    if args.connections == 0 || !(args.seconds > 0.0 && args.seconds <= 600.0) {
        return Err(format!("at least one connection, for 0 to 600 seconds. {USAGE}").into());
    }
    Ok(args)
}

fn main() -> std::process::ExitCode {
    let args = match args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime");
    match runtime.block_on(run(&args)) {
        Ok((echoes, all)) => {
            println!(
                "conns={} size={} seconds={} echoes={} msgs_per_sec={:.0} all_echoes={}",
                args.connections,
                args.size,
                args.seconds,
                echoes,
                echoes as f64 / args.seconds,
                all
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Echoes in the measured time, and in all (warm-up included).
async fn run(args: &Args) -> Result<(u64, u64), BoxError> {
    let payload: Vec<u8> = (0..args.size).map(|i| (i % 251) as u8).collect();
    let payload = std::sync::Arc::new(payload);
    let mut clients = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        clients.push(tokio::time::timeout(STEP_TIMEOUT, connect(args.addr)).await??);
    }
    let start = Instant::now() + WARM_UP;
    let end = start + Duration::from_secs_f64(args.seconds);
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|client| tokio::spawn(echo_loop(client, payload.clone(), start, end)))
        .collect();
    let (mut echoes, mut all) = (0, 0);
    for task in tasks {
        let (counted, total) = tokio::time::timeout_at((end + GRACE).into(), task).await???;
        echoes += counted;
        all += total;
    }
    Ok((echoes, all))
}

struct Client {
    stream: TcpStream,
    ws: Connection,
    buf: Vec<u8>,
}

impl Client {
    /// Writes everything the connection has queued.
    async fn flush(&mut self) -> Result<(), BoxError> {
        let pending = self.ws.pending_outbound();
        if pending > 0 {
            self.stream.write_all(self.ws.outbound()).await?;
            self.ws.advance_outbound(pending);
        }
        Ok(())
    }

    /// Reads once and hands the bytes over; false at the end of the stream.
    async fn read(&mut self) -> Result<bool, BoxError> {
        let n = tokio::time::timeout(STEP_TIMEOUT, self.stream.read(&mut self.buf)).await??;
        if n == 0 {
            self.ws.receive_eof();
            return Ok(false);
        }
        self.ws.receive(&self.buf[..n]);
        Ok(true)
    }
}

async fn connect(addr: SocketAddr) -> Result<Client, BoxError> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let uri = Uri::parse(&format!("ws://{addr}/"))?;
    let ws = Connection::client(&uri, ClientOptions::new(), Config::default());
    let mut client = Client {
        stream,
        ws,
        buf: vec![0; 64 * 1024],
    };
    loop {
        client.flush().await?;
        while let Some(event) = client.ws.poll_event()? {
            if let Event::Connected(_) = event {
                return Ok(client);
            }
        }
        if !client.read().await? {
            return Err("the server closed during the handshake".into());
        }
    }
}

/// Sends, waits for the echo, checks it, again until `end`; counts the echoes that arrive
/// from `start` on, and all of them. Then closes.
async fn echo_loop(
    mut client: Client,
    payload: std::sync::Arc<Vec<u8>>,
    start: Instant,
    end: Instant,
) -> Result<(u64, u64), BoxError> {
    let (mut echoes, mut all) = (0, 0);
    while Instant::now() < end {
        client.ws.send_binary(&payload)?;
        client.flush().await?;
        let mut echoed = false;
        while !echoed {
            if !client.read().await? {
                return Err("the server closed the connection".into());
            }
            while let Some(event) = client.ws.poll_event()? {
                match event {
                    Event::Message(Message::Binary(data)) if data[..] == payload[..] => {
                        echoed = true;
                    }
                    Event::Message(_) => return Err("the echo differs from the message".into()),
                    Event::Close(frame) => {
                        return Err(format!("the server closed: {frame:?}").into());
                    }
                    _ => {}
                }
            }
            // A pong we owe, if the server pinged.
            client.flush().await?;
        }
        all += 1;
        if Instant::now() >= start {
            echoes += 1;
        }
    }
    close(&mut client).await?;
    Ok((echoes, all))
}

/// The closing handshake: our close frame, then events until the server's answer.
async fn close(client: &mut Client) -> Result<(), BoxError> {
    client.ws.close(CloseCode::NORMAL, "")?;
    client.flush().await?;
    loop {
        while let Some(event) = client.ws.poll_event()? {
            if let Event::Close(_) = event {
                return Ok(());
            }
        }
        if !client.read().await? {
            return Ok(());
        }
    }
}
