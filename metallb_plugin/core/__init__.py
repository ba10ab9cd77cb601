"""Pure logic: no network, no files, no terminal. Everything here is callable from a unit test."""
