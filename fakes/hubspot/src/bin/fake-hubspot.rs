//! `fake-hubspot [--addr 127.0.0.1:0] [--contacts N] [--token T]`: the fake HubSpot on loopback.
fn main() {
    leadsync_fake_hubspot::main_cli();
}
