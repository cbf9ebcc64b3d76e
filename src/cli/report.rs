use super::{Args, Failure, load_settings};
use crate::report::Funnel;
use crate::store;

pub(super) fn funnel(args: &Args, json: bool) -> Result<(), Failure> {
    let settings = load_settings(args)?;
    let mut store = store::open(&settings.store.url)?;
    let funnel = Funnel::from_counts(&store.tier_counts()?);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&funnel).expect("funnel serialises")
        );
    } else {
        print!("{}", funnel.render());
    }
    Ok(())
}
