package modem

// Profile is one vendor's way of doing things.
type Profile interface{ Name() string }
