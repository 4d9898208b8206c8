//! A TCP proxy between a test app and the shared PostgreSQL that a test can cut and restore:
//! PostgreSQL out of reach (connections dropped, new ones refused) without stopping the
//! server other tests use.

use std::net::SocketAddr;
use std::sync::Mutex;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct PgProxy {
    pub addr: SocketAddr,
    target: SocketAddr,
    /// True while cut: open connections close, and nothing listens.
    cut: watch::Sender<bool>,
    accepting: Mutex<Option<JoinHandle<()>>>,
}

impl PgProxy {
    /// Listens on a free loopback port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> PgProxy {
        let listener = bind("127.0.0.1:0".parse().unwrap());
        let (cut, _) = watch::channel(false);
        let proxy = PgProxy {
            addr: listener.local_addr().unwrap(),
            target,
            cut,
            accepting: Mutex::new(None),
        };
        proxy.accept_on(listener);
        proxy
    }

    /// PostgreSQL out of reach: open connections are dropped and new ones refused.
    pub fn cut(&self) {
        self.cut.send_replace(true);
        if let Some(task) = self.accepting.lock().unwrap().take() {
            task.abort();
        }
    }

    /// PostgreSQL back, on the same address.
    pub fn restore(&self) {
        self.cut.send_replace(false);
        self.accept_on(bind(self.addr));
    }

    fn accept_on(&self, listener: TcpListener) {
        let (target, cut) = (self.target, self.cut.subscribe());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(forward(client, target, cut.clone()));
            }
        });
        *self.accepting.lock().unwrap() = Some(task);
    }
}

impl Drop for PgProxy {
    fn drop(&mut self) {
        self.cut();
    }
}

fn bind(addr: SocketAddr) -> TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(addr).unwrap();
    socket.listen(128).unwrap()
}

async fn forward(mut client: TcpStream, target: SocketAddr, mut cut: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = cut.wait_for(|cut| *cut) => {}
    }
}
