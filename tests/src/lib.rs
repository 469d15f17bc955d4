//! Support code shared by wmpush's end-to-end and interop tests.
