//! A TCP proxy that a test can cut (connections closed, new ones refused: a
//! stopped server) or silence (connections stay open but nothing passes: a
//! dead host or a dropped route, which closes nothing). Used in front of the
//! test Redis, which itself is never stopped, and of PostgreSQL, to see what
//! memo sends (each connection's writes, as the link read them).
//! jwt-extended's `tests/redis_outage.rs` has the same link.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, Weak},
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{
        TcpListener, TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    sync::watch,
};

/// What the [`Link`] lets through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Everything, both ways.
    Open,
    /// Nothing, but every connection stays open: a dead host or a dropped route.
    Silent,
    /// Connections closed and new ones refused: Redis stopped.
    Cut,
}

/// What one connection's client sent: each chunk the link read from it, as
/// its first byte and its length.
type Chunks = Arc<Mutex<Vec<(u8, usize)>>>;

/// Every connection's [`Chunks`], in the order they were accepted.
type Sent = Arc<Mutex<Vec<Chunks>>>;

/// A TCP proxy that the test can cut or silence; dropping it cuts it.
#[derive(Debug)]
pub struct Link {
    address: SocketAddr,
    state: watch::Sender<State>,
    task: tokio::task::JoinHandle<()>,
    /// Held by every connection: its count tells how many are open.
    connections: Arc<()>,
    sent: Sent,
}

impl Link {
    /// A link to `target` (`host:port`), open.
    pub async fn to(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let address = listener.local_addr().expect("its address");
        let (state, watched) = watch::channel(State::Open);
        let connections = Arc::new(());
        let sent = Sent::default();
        let task = tokio::spawn(accept(
            listener,
            target.to_owned(),
            watched,
            Arc::downgrade(&connections),
            sent.clone(),
        ));
        Self {
            address,
            state,
            task,
            connections,
            sent,
        }
    }

    /// The link's `host:port`.
    #[must_use]
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// What each connection's client has sent so far: each chunk's first
    /// byte and length, in order.
    #[must_use]
    pub fn sent(&self) -> Vec<Vec<(u8, usize)>> {
        let connections = self.sent.lock().expect("the record");
        connections
            .iter()
            .map(|chunks| chunks.lock().expect("the record").clone())
            .collect()
    }

    /// `redis://` and the link's address.
    #[must_use]
    pub fn url(&self) -> String {
        format!("redis://{}", self.address)
    }

    /// Opens, silences or cuts the link.
    pub fn set(&self, state: State) {
        self.state.send_replace(state);
    }

    /// Cuts the link and returns once every connection through it is
    /// closed and new ones are refused.
    pub async fn cut(&self) {
        self.set(State::Cut);
        for _ in 0..1000 {
            let open = Arc::strong_count(&self.connections) > 1;
            if !open && TcpStream::connect(self.address).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the link was not cut within 5 s");
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.set(State::Cut);
        self.task.abort();
    }
}

/// Accepts while the link is not cut; listens again on the same port when it is restored.
async fn accept(
    listener: TcpListener,
    target: String,
    mut state: watch::Receiver<State>,
    connections: Weak<()>,
    sent: Sent,
) {
    let address = listener.local_addr().expect("its address");
    let mut listener = Some(listener);
    loop {
        if *state.borrow_and_update() == State::Cut {
            listener = None;
            if state.changed().await.is_err() {
                return;
            }
            continue;
        }
        let current = match listener.take() {
            Some(current) => current,
            None => TcpListener::bind(address)
                .await
                .expect("the same port again"),
        };
        tokio::select! {
            accepted = current.accept() => {
                if let (Ok((client, _)), Some(held)) = (accepted, connections.upgrade()) {
                    let chunks = Arc::default();
                    sent.lock().expect("the record").push(Arc::clone(&chunks));
                    tokio::spawn(pipe(client, target.clone(), state.clone(), held, chunks));
                }
            }
            changed = state.changed() => if changed.is_err() { return },
        }
        listener = Some(current);
    }
}

async fn pipe(
    client: TcpStream,
    target: String,
    state: watch::Receiver<State>,
    _held: Arc<()>,
    chunks: Chunks,
) {
    let Ok(server) = TcpStream::connect(target).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        forward(client_read, server_write, state.clone(), Some(chunks)),
        forward(server_read, client_write, state, None),
    );
}

/// Copies bytes while the link is open, holds them while it is silent, and ends (closing the
/// connection once both directions have) when it is cut.
async fn forward(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut state: watch::Receiver<State>,
    record: Option<Chunks>,
) {
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let current = *state.borrow_and_update();
        match current {
            State::Cut => return,
            State::Silent => {
                if state.changed().await.is_err() {
                    return;
                }
                continue;
            }
            State::Open => {}
        }
        tokio::select! {
            read = from.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if let Some(record) = &record {
                        record.lock().expect("the record").push((buffer[0], n));
                    }
                    if to.write_all(&buffer[..n]).await.is_err() { return }
                }
            },
            changed = state.changed() => if changed.is_err() { return },
        }
    }
}
