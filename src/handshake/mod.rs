//! TEMPORARY STUBS — replaced by the handshake branch at merge.
#![allow(missing_docs, dead_code)]
use alloc::string::String;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_head_size: usize,
    pub max_headers: usize,
}
impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_size: 8192,
            max_headers: 64,
        }
    }
}
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: Bytes,
}
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionOffer {
    pub name: String,
}
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub key: String,
    pub protocols: Vec<String>,
}
impl Request {
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }
}
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestError {
    Bad,
}
impl core::fmt::Display for RequestError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("bad")
    }
}
impl RequestError {
    pub fn status(&self) -> u16 {
        400
    }
    pub fn write_response(&self, out: &mut BytesMut) {
        out.extend_from_slice(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    }
}
pub fn parse_request(_buf: &[u8], _l: &Limits) -> Result<Option<(Request, usize)>, RequestError> {
    Ok(None)
}
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Accept {
    pub protocol: Option<String>,
}
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AcceptError {
    ProtocolNotOffered,
}
impl core::fmt::Display for AcceptError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("bad")
    }
}
impl Accept {
    pub fn write_response(&self, _req: &Request, _out: &mut BytesMut) -> Result<(), AcceptError> {
        Ok(())
    }
}
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    pub status: u16,
}
impl Reject {
    pub fn write_response(&self, _out: &mut BytesMut) {}
}
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uri {
    pub resource: String,
}
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ClientOptions {
    pub protocols: Vec<String>,
}
pub fn write_request(_uri: &Uri, _key: &[u8; 24], _o: &ClientOptions, _out: &mut BytesMut) {}
pub fn generate_key(_rng: &mut impl rand_core::Rng) -> [u8; 24] {
    [b'A'; 24]
}
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
}
impl Response {
    pub fn status(&self) -> u16 {
        self.status
    }
    pub fn reason(&self) -> &str {
        ""
    }
    pub fn content_length(&self) -> Option<usize> {
        None
    }
}
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseError {
    Rejected { status: u16 },
}
impl core::fmt::Display for ResponseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("bad")
    }
}
pub fn parse_response(
    _buf: &[u8],
    _l: &Limits,
) -> Result<Option<(Response, usize)>, ResponseError> {
    Ok(None)
}
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    pub protocol: Option<String>,
    pub extensions: Vec<ExtensionOffer>,
}
pub fn validate_response(
    _r: &Response,
    _key: &[u8; 24],
    _o: &ClientOptions,
) -> Result<Negotiated, ResponseError> {
    Err(ResponseError::Rejected { status: 0 })
}
