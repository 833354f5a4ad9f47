//! `ipc`: endpoint and notification round trips between this program (the client) and a copy of itself
//! started as `ipc server`, which gets the endpoint as handle 1 and the notification as handle 2.
//!
//! The client checks, in order:
//! (a) `ROUND_TRIPS` register-only calls: it sends `[i, 3i, i ^ PATTERN, !i]`, the server answers
//!     `[w0 + 1, 2 w1, !w2, w3.rotate_left(7)]` (and itself checks `w1 == 3 w0`);
//! (b) a bulk call: 4096 pattern bytes go to the server, which sends back each byte XOR 0x5a;
//! (c) an over-limit bulk send (4097 bytes > `abi::IPC_BULK_MAX`) is refused with EMSGSIZE before it
//!     reaches the server;
//! (d) a notification: the server signals bit 0x4 after replying to a request; the client's
//!     `notify_wait` returns 0x4 and a following `notify_poll` 0 (waiting clears the word);
//! then it sends the exit message (w0 = u64::MAX), reaps the server and expects exit code 0.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use abi::wait;
use userland::sys::{self, Bulk, Handle, WaitStatus};
use userland::{Args, fail, println};

userland::entry!(main);

const ROUND_TRIPS: u64 = 1000;
const PATTERN: u64 = 0x5555_aaaa_1234_8765;
const BULK_BYTES: usize = abi::IPC_BULK_MAX as usize;
const XOR_BYTE: u8 = 0x5a;
const NOTIFY_BIT: u64 = 0x4;

/// Requests with w0 at the top of the range; smaller w0 are register-only round trips.
const OP_EXIT: u64 = u64::MAX;
const OP_NOTIFY: u64 = u64::MAX - 1;
const OP_BULK: u64 = u64::MAX - 2;

/// The server's handles (the order of `SpawnAttr::handles`).
const SERVER_ENDPOINT: Handle = 1;
const SERVER_NOTIFICATION: Handle = 2;

fn main(args: &Args) -> i32 {
    match args.get(1) {
        Some("server") => server(),
        _ => client(),
    }
}

/// The byte at `index` of the bulk pattern.
fn pattern_byte(index: usize) -> u8 {
    (index as u8).wrapping_mul(31) ^ (index >> 8) as u8
}

/// The register reply the server gives for request `words`.
fn reply_words(words: [u64; 4]) -> [u64; 4] {
    [words[0].wrapping_add(1), words[1].wrapping_mul(2), !words[2], words[3].rotate_left(7)]
}

fn client() -> i32 {
    let endpoint = sys::endpoint_create().unwrap_or_else(|e| fail!("ipc: endpoint_create: {e}"));
    let notification = sys::notify_create().unwrap_or_else(|e| fail!("ipc: notify_create: {e}"));
    let attr = sys::spawn_attr(0, 0, &[endpoint, notification]);
    let server = sys::spawn("ipc", &["server"], Some(&attr)).unwrap_or_else(|e| fail!("ipc: spawn: {e}"));
    println!("ipc: server is pid {server}; endpoint {endpoint}, notification {notification}");

    // (a) Register-only round trips.
    for i in 0..ROUND_TRIPS {
        let words = [i, i * 3, i ^ PATTERN, !i];
        let reply = sys::ipc_call(endpoint, words, None).unwrap_or_else(|e| fail!("ipc: call {i}: {e}"));
        if reply.value != 0 || reply.words != reply_words(words) {
            fail!("ipc: call {i}: reply {reply:x?}, expected status 0 and {:x?}", reply_words(words));
        }
    }
    println!("ipc: {ROUND_TRIPS} register round trips ok");

    // (b) One page there and back.
    let mut page = [0u8; BULK_BYTES];
    for (index, byte) in page.iter_mut().enumerate() {
        *byte = pattern_byte(index);
    }
    let mut answer = [0u8; BULK_BYTES];
    let mut bulk = Bulk::new(&page, &mut answer);
    let reply = sys::ipc_call(endpoint, [OP_BULK, 0, 0, 0], Some(&mut bulk))
        .unwrap_or_else(|e| fail!("ipc: bulk call: {e}"));
    let received = bulk.received();
    if reply.words[0] != BULK_BYTES as u64 || received != BULK_BYTES {
        fail!("ipc: bulk: server got {} bytes, we got {received} back", reply.words[0]);
    }
    if let Some(index) = (0..BULK_BYTES).find(|&index| answer[index] != pattern_byte(index) ^ XOR_BYTE) {
        fail!(
            "ipc: bulk: byte {index} is {:#x}, expected {:#x}",
            answer[index],
            pattern_byte(index) ^ XOR_BYTE
        );
    }
    println!("ipc: bulk {BULK_BYTES} bytes there and back ok");

    // (c) Over the limit: one byte more than IPC_BULK_MAX.
    let mut oversized = [0u8; BULK_BYTES + 1];
    oversized[BULK_BYTES] = 1;
    let mut bulk = Bulk::send_only(&oversized);
    match sys::ipc_call(endpoint, [OP_BULK, 0, 0, 0], Some(&mut bulk)) {
        Err(userland::Errno::EMSGSIZE) => {
            println!("ipc: bulk of {} bytes refused with EMSGSIZE (ok)", BULK_BYTES + 1)
        }
        other => fail!("ipc: bulk of {} bytes: {other:x?}, expected EMSGSIZE", BULK_BYTES + 1),
    }

    // (d) Notification: the server signals NOTIFY_BIT after its reply.
    sys::ipc_call(endpoint, [OP_NOTIFY, NOTIFY_BIT, 0, 0], None)
        .unwrap_or_else(|e| fail!("ipc: notify request: {e}"));
    match sys::notify_wait(notification) {
        Ok(NOTIFY_BIT) => {}
        other => fail!("ipc: notify_wait: {other:x?}, expected {NOTIFY_BIT:#x}"),
    }
    match sys::notify_poll(notification) {
        Ok(0) => println!("ipc: notification bit {NOTIFY_BIT:#x} received, word cleared (ok)"),
        other => fail!("ipc: notify_poll after wait: {other:x?}, expected 0"),
    }

    // Shut the server down and collect its verdict.
    sys::ipc_send(endpoint, [OP_EXIT, 0, 0, 0], None).unwrap_or_else(|e| fail!("ipc: exit message: {e}"));
    match sys::wait4(server as i64, 0) {
        Ok((_, status)) if wait::if_exited(status) && wait::exit_status(status) == 0 => {}
        Ok((_, status)) => fail!("ipc: server {}", WaitStatus(status)),
        Err(e) => fail!("ipc: wait4(server): {e}"),
    }
    println!("ipc: {ROUND_TRIPS} round trips ok, bulk ok");
    0
}

/// The server loop: receive, answer according to w0, until the exit message.
fn server() -> i32 {
    let mut incoming = [0u8; BULK_BYTES];
    let mut outgoing = [0u8; BULK_BYTES];
    let mut errors = 0;

    let mut bulk = Bulk::recv_only(&mut incoming);
    let mut request = sys::ipc_recv(SERVER_ENDPOINT, Some(&mut bulk));
    let mut received = bulk.received();
    loop {
        let message = request.unwrap_or_else(|e| fail!("ipc server: receive: {e}"));
        let words = message.words;
        let (reply, reply_len) = match words[0] {
            OP_EXIT => break,
            OP_NOTIFY => {
                // Reply first, then signal, so the client is (likely) already waiting.
                sys::ipc_reply(0, [0; 4], None).unwrap_or_else(|e| fail!("ipc server: reply: {e}"));
                sys::notify_signal(SERVER_NOTIFICATION, words[1])
                    .unwrap_or_else(|e| fail!("ipc server: notify_signal: {e}"));
                let mut bulk = Bulk::recv_only(&mut incoming);
                request = sys::ipc_recv(SERVER_ENDPOINT, Some(&mut bulk));
                received = bulk.received();
                continue;
            }
            OP_BULK => {
                for (out, byte) in outgoing.iter_mut().zip(&incoming[..received]) {
                    *out = byte ^ XOR_BYTE;
                }
                ([received as u64, 0, 0, 0], received)
            }
            i => {
                if words[1] != i.wrapping_mul(3) || received != 0 {
                    println!("ipc server: request {i}: w1 {:#x}, bulk {received} bytes", words[1]);
                    errors += 1;
                }
                (reply_words(words), 0)
            }
        };
        let mut bulk = Bulk::new(&outgoing[..reply_len], &mut incoming);
        request = sys::ipc_reply_recv(SERVER_ENDPOINT, reply, Some(&mut bulk));
        received = bulk.received();
    }
    println!("ipc server: exit requested, {errors} bad requests");
    i32::from(errors != 0)
}
