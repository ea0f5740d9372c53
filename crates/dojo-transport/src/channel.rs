//! The dendrite's HTTP/2 connection to one axon, driven with `h2` directly.
//!
//! Through tonic's `Channel` (hyper underneath), a unary call left the validator as three TCP
//! segments: HEADERS when the stream opened, the DATA frame once the opened stream had been given
//! flow-control capacity, and an empty end-of-stream DATA frame. Each call also passed through a
//! buffer task and a dispatch task and spawned two more tasks. Loopback delivery is paid by the
//! sender, so on a validator fanning out to hundreds of axons these, not signing, were most of the
//! CPU of a round. Here the calling task queues the HEADERS and the whole body, marked
//! end-of-stream, before the connection task runs, so the connection writes a call at once, and
//! nothing is spawned per call.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::uri::{Authority, Scheme, Uri};
use http_body::Frame;
use http_body_util::BodyExt;
use tower::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Per-stream receive window, as hyper's client sets it.
const STREAM_WINDOW: u32 = 2 << 20;
/// Per-connection receive window, as hyper's client sets it.
const CONNECTION_WINDOW: u32 = 5 << 20;
/// Largest response header block accepted.
const MAX_HEADER_LIST: u32 = 16 << 10;

/// Why no connection to an axon could be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Neither the TCP connection nor the HTTP/2 handshake finished in time.
    #[error("connect timed out after {0:?}")]
    Timeout(Duration),
    /// The TCP connection failed.
    #[error("tcp connect failed")]
    Io(#[source] std::io::Error),
    /// The HTTP/2 handshake failed.
    #[error("http/2 handshake failed")]
    Handshake(#[source] h2::Error),
}

/// An HTTP/2 connection to one axon, usable as the transport of a generated tonic client.
/// Clones share the connection.
#[derive(Clone, Debug)]
pub struct AxonChannel {
    send: h2::client::SendRequest<Bytes>,
    authority: Authority,
    /// Set when the connection has ended (the axon closed it, went away or broke it).
    closed: Arc<AtomicBool>,
}

impl AxonChannel {
    /// Opens a connection to `addr` (with `TCP_NODELAY`) and spawns the task that drives it; the
    /// task ends when every clone of the channel is dropped or the connection fails.
    pub async fn connect(addr: SocketAddr, timeout: Duration) -> Result<Self, ConnectError> {
        let connect = async {
            let tcp = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(ConnectError::Io)?;
            tcp.set_nodelay(true).map_err(ConnectError::Io)?;
            h2::client::Builder::new()
                .enable_push(false)
                .initial_window_size(STREAM_WINDOW)
                .initial_connection_window_size(CONNECTION_WINDOW)
                .max_header_list_size(MAX_HEADER_LIST)
                .handshake::<_, Bytes>(tcp)
                .await
                .map_err(ConnectError::Handshake)
        };
        let (send, connection) = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| ConnectError::Timeout(timeout))??;
        let closed = Arc::new(AtomicBool::new(false));
        let ended = closed.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(target: "transport::dendrite", %addr, error = %e, "connection ended");
            }
            ended.store(true, Ordering::Release);
        });
        let authority = Authority::try_from(addr.to_string())
            .map_err(|_| ConnectError::Io(std::io::Error::other("address is not an authority")))?;
        Ok(AxonChannel {
            send,
            authority,
            closed,
        })
    }

    /// Whether the connection has ended; a call on it would fail, so a new one is needed.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Sends one request: the HEADERS and the whole body are queued together, the body marked
    /// end-of-stream, so the connection task writes them in one go.
    async fn send(
        send: h2::client::SendRequest<Bytes>,
        authority: Authority,
        request: http::Request<tonic::body::Body>,
    ) -> Result<http::Response<ResponseBody>, BoxError> {
        let (mut parts, body) = request.into_parts();
        // A unary request's body is ready at once; collecting it does not wait on the network.
        let body = body.collect().await?.to_bytes();
        let mut uri = parts.uri.into_parts();
        uri.scheme = Some(Scheme::HTTP);
        uri.authority = Some(authority);
        parts.uri = Uri::from_parts(uri)?;
        let mut send = send.ready().await?;
        let eos = body.is_empty();
        let (response, mut stream) =
            send.send_request(http::Request::from_parts(parts, ()), eos)?;
        if !eos {
            stream.send_data(body, true)?;
        }
        Ok(response.await?.map(ResponseBody::new))
    }
}

impl Service<http::Request<tonic::body::Body>> for AxonChannel {
    type Response = http::Response<ResponseBody>;
    type Error = BoxError;
    type Future =
        Pin<Box<dyn Future<Output = Result<http::Response<ResponseBody>, BoxError>> + Send>>;

    /// Always ready: each call waits for the connection inside its own future, so concurrent
    /// calls on clones do not queue behind one another here.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(Self::send(
            self.send.clone(),
            self.authority.clone(),
            request,
        ))
    }
}

/// A response body read from its HTTP/2 stream: DATA frames (their flow-control capacity given
/// back as they are read), then the trailers that carry the gRPC status.
#[derive(Debug)]
pub struct ResponseBody {
    recv: h2::RecvStream,
    data_done: bool,
    done: bool,
}

impl ResponseBody {
    fn new(recv: h2::RecvStream) -> Self {
        ResponseBody {
            recv,
            data_done: false,
            done: false,
        }
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        let me = self.get_mut();
        if me.done {
            return Poll::Ready(None);
        }
        if !me.data_done {
            match ready!(me.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    // Only fails once the stream is gone, when there is no window left to open.
                    let _ = me.recv.flow_control().release_capacity(data.len());
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(e)) => {
                    me.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                None => me.data_done = true,
            }
        }
        let trailers = ready!(me.recv.poll_trailers(cx));
        me.done = true;
        match trailers {
            Ok(Some(trailers)) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            Ok(None) => Poll::Ready(None),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.recv.is_end_stream()
    }
}
