//! Pure domain rules: no I/O, no database types.

pub mod access_log;
pub mod booking;
pub mod calendar;
pub mod chat;
pub mod csv_cell;
pub mod field;
pub mod meeting_request;
pub mod network;
pub mod password;
pub mod people;
pub mod qr;
pub mod romaji;
pub mod room;
pub mod slots;
pub mod token;
pub mod visit;
pub mod webhook;
