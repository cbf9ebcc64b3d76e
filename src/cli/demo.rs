//! `leadsync demo`: sample drops in a temporary inbox, one full cycle, the funnel.

use super::Failure;
use crate::config;
use crate::report::Funnel;
use crate::sample;
use crate::store;
use crate::sync::{run_once, select};
use std::fs;
use std::path::{Path, PathBuf};

pub(super) async fn run(dir: Option<&Path>, contacts: usize) -> Result<(), Failure> {
    let (root, _temp) = match dir {
        Some(d) => (d.to_path_buf(), None),
        None => {
            let t = tempfile::Builder::new()
                .prefix("leadsync-demo-")
                .tempdir()
                .map_err(|e| Failure::runtime(format!("cannot create a temporary folder: {e}")))?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let io = |what: &str, e: std::io::Error| Failure::runtime(format!("demo: cannot {what}: {e}"));
    let inbox = root.join("inbox");
    fs::create_dir_all(&inbox).map_err(|e| io("create the inbox", e))?;
    let config_path = root.join("leadsync.toml");
    let db = root.join("leadsync.db");
    fs::write(&config_path, demo_config(&inbox, &db)).map_err(|e| io("write the config", e))?;

    println!("leadsync demo in {}", root.display());
    let files = write_drops(&inbox, contacts.max(30))?;
    println!(
        "dropped {} sample exports into {}:",
        files.len(),
        inbox.display()
    );
    for f in &files {
        println!(
            "  {}",
            f.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        );
    }

    let settings = config::load(&config_path).map_err(|e| Failure::runtime(e.to_string()))?;
    let mut store = store::open(&settings.store.url)?;
    let mut connectors = select(&settings, None).map_err(Failure::runtime)?;
    let rules = super::load_rules(&settings, None)?;
    let bar = super::sync::spinner();
    let cycle = run_once(
        &settings,
        store.as_mut(),
        &mut connectors,
        &rules,
        Some(&bar),
    )
    .await?;
    bar.finish_and_clear();
    println!("\nsync cycle:");
    super::sync::print_cycle(&cycle);
    println!("\nfunnel ({} persons):", store.person_count()?);
    print!("{}", Funnel::from_counts(&store.tier_counts()?).render());

    let example = sample::person(DEMO_SEED, 0).email;
    println!(
        "\nrejected rows are in {}/processed/*.rejects.csv",
        inbox.display()
    );
    if dir.is_some() {
        println!(
            "explain a person:  leadsync --config {} explain {example}",
            config_path.display()
        );
        println!(
            "funnel as JSON:    leadsync --config {} report funnel --json",
            config_path.display()
        );
    } else {
        println!(
            "(the demo folder is temporary; run `leadsync demo --dir DIR` to keep it and try `leadsync --config DIR/leadsync.toml explain {example}`)"
        );
    }
    Ok(())
}

const DEMO_SEED: u64 = 2026;

fn demo_config(inbox: &Path, db: &Path) -> String {
    format!(
        "[store]\nurl = \"sqlite://{}\"\n\n[connectors.drops]\ntype = \"spreadsheet\"\ninbox = \"{}\"\nsettle = \"0s\"\n",
        db.display(),
        inbox.display()
    )
}

/// A HubSpot CSV, a Salesforce CSV and a Pipedrive XLSX that overlap, plus a file nobody can read.
fn write_drops(inbox: &Path, contacts: usize) -> Result<Vec<PathBuf>, Failure> {
    let fail = |e: String| Failure::runtime(format!("demo: cannot write sample drops: {e}"));
    let files = sample::drop_rows(DEMO_SEED, contacts, 3, 0.15, 150);
    let mut paths = Vec::new();
    let hubspot = inbox.join("hubspot-contacts-export.csv");
    let f = fs::File::create(&hubspot).map_err(|e| fail(e.to_string()))?;
    sample::write_hubspot_csv(f, files[0].clone()).map_err(|e| fail(e.to_string()))?;
    paths.push(hubspot);
    let salesforce = inbox.join("salesforce-leads-report.csv");
    let f = fs::File::create(&salesforce).map_err(|e| fail(e.to_string()))?;
    sample::write_salesforce_csv(f, files[1].clone()).map_err(|e| fail(e.to_string()))?;
    paths.push(salesforce);
    let pipedrive = inbox.join("pipedrive-people.xlsx");
    sample::write_pipedrive_xlsx(&pipedrive, &files[2]).map_err(|e| fail(e.to_string()))?;
    paths.push(pipedrive);
    let broken = inbox.join("scanned-business-cards.pdf");
    fs::write(
        &broken,
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
    )
    .map_err(|e| fail(e.to_string()))?;
    paths.push(broken);
    Ok(paths)
}
