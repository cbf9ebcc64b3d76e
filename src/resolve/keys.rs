//! Identity keys: the values two records must share to be the same person.

use crate::config::IdentityConfig;

/// Key kind for normalised emails.
pub const EMAIL: &str = "email";
/// Key kind for E.164 phones.
pub const PHONE: &str = "phone";

/// What the key kinds of CRM record ids start with.
pub(super) const CRM_PREFIX: &str = "crm:";

/// Key kind for the record ids of one CRM connector: `crm:hubspot`.
pub fn crm_kind(connector: &str) -> &'static str {
    let mut kinds = KINDS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(kind) = kinds
        .iter()
        .find(|k| k.strip_prefix(CRM_PREFIX) == Some(connector))
    {
        return kind;
    }
    let kind: &'static str = format!("{CRM_PREFIX}{connector}").leak();
    kinds.push(kind);
    kind
}

/// The CRM key kinds made so far: one per CRM connector the process has known, kept for its
/// life (a few bytes each), so keys share their kind instead of copying it.
static KINDS: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

pub use crate::model::Key;

/// Folds a canonical email (see `leadsync_connector_core::email::normalize`) into its identity
/// key: `googlemail.com` is `gmail.com`, and domains that ignore `+tags` or dots lose them.
pub struct EmailFolder {
    plus: Vec<String>,
    dots: Vec<String>,
}

impl EmailFolder {
    pub fn new(cfg: &IdentityConfig) -> Self {
        let lower = |v: &[String]| v.iter().map(|d| d.trim().to_lowercase()).collect();
        EmailFolder {
            plus: lower(&cfg.plus_folding_domains),
            dots: lower(&cfg.dot_folding_domains),
        }
    }

    pub fn fold(&self, canonical: &str) -> String {
        let Some((local, domain)) = canonical.rsplit_once('@') else {
            return canonical.to_string();
        };
        let mut local = local.to_string();
        if self.plus.iter().any(|d| d == domain)
            && let Some(i) = local.find('+')
            && i > 0
        {
            local.truncate(i);
        }
        if self.dots.iter().any(|d| d == domain) {
            local.retain(|c| c != '.');
        }
        let domain = if domain == "googlemail.com" {
            "gmail.com"
        } else {
            domain
        };
        local.reserve_exact(1 + domain.len());
        local.push('@');
        local.push_str(domain);
        local
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crm_kind_is_made_once_per_connector_and_shared() {
        let (a, b) = (crm_kind("hubspot"), crm_kind("hubspot"));
        assert_eq!(a, "crm:hubspot");
        assert!(
            std::ptr::eq(a, b),
            "the same kind is shared, not made again"
        );
        assert_eq!(crm_kind("hubspot_eu"), "crm:hubspot_eu");
        assert_eq!(crm_kind("crm:x"), "crm:crm:x");
        assert_eq!(crm_kind("hubspot"), "crm:hubspot");
    }

    #[test]
    fn gmail_ignores_dots_and_tags_other_domains_keep_them() {
        let f = EmailFolder::new(&IdentityConfig::default());
        assert_eq!(f.fold("j.doe+news@gmail.com"), "jdoe@gmail.com");
        assert_eq!(f.fold("jdoe@googlemail.com"), "jdoe@gmail.com");
        assert_eq!(f.fold("j.doe+x@outlook.com"), "j.doe@outlook.com");
        assert_eq!(f.fold("j.doe+x@acme.com"), "j.doe+x@acme.com");
        assert_eq!(
            f.fold("+x@gmail.com"),
            "+x@gmail.com",
            "a bare tag is the whole local part"
        );
    }

    #[test]
    fn folding_is_configurable() {
        let cfg = IdentityConfig {
            plus_folding_domains: vec!["acme.com".into()],
            dot_folding_domains: vec![],
            ..IdentityConfig::default()
        };
        let f = EmailFolder::new(&cfg);
        assert_eq!(f.fold("j.doe+x@acme.com"), "j.doe@acme.com");
        assert_eq!(f.fold("j.doe+x@gmail.com"), "j.doe+x@gmail.com");
    }
}
