use super::{Args, Failure, load_rules, load_settings};
use crate::explain;

pub(super) fn run(args: &Args, who: &str, json: bool) -> Result<(), Failure> {
    let settings = load_settings(args)?;
    let rules = load_rules(&settings, None)?;
    let mut store = super::open_store(&settings)?;
    let id = explain::find(store.as_mut(), &settings.identity, who)?.ok_or_else(|| {
        Failure::runtime(format!(
            "no person matches `{who}` (try an email, a phone number or a person id)"
        ))
    })?;
    let view = explain::view(store.as_mut(), id, &rules, crate::clock::now())?
        .ok_or_else(|| Failure::runtime(format!("person {id} vanished while reading")))?;
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&view).expect("views serialise")
        );
    } else {
        out!("{}", view.render());
    }
    Ok(())
}
