//! `fake-salesforce [--port 0] [--leads N] [--contacts N] [--client-id ID] [--client-secret S]
//! [--daily-limit N] [--seed S]`: the fake Salesforce on loopback until Ctrl-C or SIGTERM.
fn main() {
    leadsync_fake_salesforce::main_cli();
}
