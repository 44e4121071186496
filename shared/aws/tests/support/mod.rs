//! Helpers for the tests: fresh tables on moto, and reading requests for the tests that stand in
//! for an AWS service with a scripted HTTP server. (Each test binary uses some of them.)
#![allow(dead_code)]

use tokio::io::AsyncReadExt as _;
use tokio::net::TcpStream;

/// Reads the next HTTP/1.1 request from `stream` into `buffer` (keeping what follows it) and
/// returns its lower-cased head and its body; `None` once the client hangs up.
pub async fn next_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        read_more(stream, buffer).await?;
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |value| value.trim().parse().expect("a numeric Content-Length"));
    while buffer.len() < head_end + length {
        read_more(stream, buffer).await?;
    }
    let body = buffer[head_end..head_end + length].to_vec();
    buffer.drain(..head_end + length);
    Some((head, body))
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0u8; 4096];
    let read = stream.read(&mut chunk).await.ok()?;
    if read == 0 {
        return None;
    }
    buffer.extend_from_slice(&chunk[..read]);
    Some(())
}

/// A store over fresh tables on this process's moto server, named after `kind` and a counter.
pub async fn fresh_store(kind: &str) -> cirrus_aws::DynamoStore {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let case = NEXT.fetch_add(1, Ordering::Relaxed);
    let config = cirrus_aws::Config::with_prefix(&format!("cirrus-{kind}-{}-{case}", std::process::id()));
    let client = aws_sdk_dynamodb::Client::new(&cirrus_aws::moto::sdk());
    cirrus_aws::create_tables(&client, &config)
        .await
        .expect("create the tables in moto");
    cirrus_aws::DynamoStore::new(client, config)
}
