//! The JSON shapes Salesforce's REST API sends and expects: query pages, Lead, Contact,
//! Opportunity and LeadStatus records, the OAuth token answer, error arrays, sObject collection
//! updates, and the `Sforce-Limit-Info` header.

use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// Records per sObject collections request, at most.
pub const MAX_COLLECTION: usize = 200;

/// One batch of a SOQL query (`/query`, `/queryAll`, or a `nextRecordsUrl`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QueryPage<T> {
    pub total_size: u64,
    /// No more batches: `next_records_url` is absent.
    pub done: bool,
    pub records: Vec<T>,
    /// The next batch, a path to follow verbatim (`/services/data/v66.0/query/01g…-2000`).
    #[serde(default)]
    pub next_records_url: Option<String>,
}

impl<T> QueryPage<T> {
    /// The locator to follow, if the query is not done.
    pub fn next(&self) -> Option<&str> {
        self.next_records_url
            .as_deref()
            .filter(|url| !self.done && !url.is_empty())
    }
}

/// A Lead. Fields a query did not select are absent.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Lead {
    pub id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub mobile_phone: Option<String>,
    pub company: Option<String>,
    pub title: Option<String>,
    pub industry: Option<String>,
    pub country: Option<String>,
    pub number_of_employees: Option<u64>,
    pub lead_source: Option<String>,
    pub status: Option<String>,
    #[serde(default)]
    pub is_converted: bool,
    pub converted_contact_id: Option<String>,
    #[serde(default)]
    pub is_deleted: bool,
    pub master_record_id: Option<String>,
    pub created_date: Option<String>,
    /// The day of the newest task or event (read-only, set by Salesforce).
    pub last_activity_date: Option<String>,
    pub system_modstamp: Option<String>,
}

/// A Contact. Custom fields (the configured `contact_stage_field`) are in `custom`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Contact {
    pub id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub mobile_phone: Option<String>,
    pub title: Option<String>,
    pub lead_source: Option<String>,
    #[serde(default)]
    pub is_deleted: bool,
    pub master_record_id: Option<String>,
    pub created_date: Option<String>,
    /// The day of the newest task or event (read-only, set by Salesforce).
    pub last_activity_date: Option<String>,
    pub system_modstamp: Option<String>,
    /// Every other field of the answer (`attributes` included), by API name.
    #[serde(flatten)]
    pub custom: BTreeMap<String, serde_json::Value>,
}

impl Contact {
    /// A custom field's text, if it is set.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.custom
            .get(field)
            .and_then(serde_json::Value::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// An Opportunity, with the contact it belongs to (`ContactId`, or the role's contact).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Opportunity {
    pub id: String,
    pub stage_name: Option<String>,
    #[serde(default)]
    pub is_closed: bool,
    #[serde(default)]
    pub is_won: bool,
    pub contact_id: Option<String>,
    pub system_modstamp: Option<String>,
}

/// One value of the org's Lead `Status` picklist (`SELECT … FROM LeadStatus`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct LeadStatusValue {
    pub api_name: String,
    #[serde(default)]
    pub master_label: Option<String>,
    pub sort_order: i64,
    #[serde(default)]
    pub is_converted: bool,
    #[serde(default)]
    pub is_default: bool,
}

/// `GET /sobjects/{type}/updated/?start&end`: ids changed in the window. `latestDateCovered` is
/// the next `start`; it stays back while long transactions are open, so nothing is skipped.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Updated {
    pub ids: Vec<String>,
    pub latest_date_covered: String,
}

/// `GET /sobjects/{type}/deleted/?start&end`: deletions in the window. A merge loser appears here
/// too: check `MasterRecordId` before treating one as an erasure.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    pub deleted_records: Vec<DeletedRecord>,
    #[serde(default)]
    pub earliest_date_available: Option<String>,
    pub latest_date_covered: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeletedRecord {
    pub id: String,
    pub deleted_date: String,
}

/// The answer of `POST /services/oauth2/token`. The access token is wrapped at once: it is
/// never printed.
#[derive(Debug, Deserialize)]
pub struct TokenAnswer {
    #[serde(deserialize_with = "secret")]
    pub access_token: SecretString,
    #[serde(default)]
    pub instance_url: Option<String>,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub issued_at: Option<String>,
}

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    String::deserialize(d).map(SecretString::from)
}

/// The error body of the token endpoint (`{"error":"invalid_client", …}`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct OAuthError {
    pub error: String,
    #[serde(default)]
    pub error_description: Option<String>,
}

/// One element of a REST error array (`[{"message","errorCode","fields"}]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    pub error_code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub fields: Vec<String>,
}

/// The first error of an error body, if the body is an error array.
pub fn first_error(body: &[u8]) -> Option<ApiError> {
    serde_json::from_slice::<Vec<ApiError>>(body)
        .ok()?
        .into_iter()
        .next()
}

/// `PATCH /composite/sobjects`: up to [`MAX_COLLECTION`] records, each outcome reported apart.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CollectionUpdate {
    pub all_or_none: bool,
    pub records: Vec<UpdateRecord>,
}

impl CollectionUpdate {
    /// Records that succeed or fail one by one (`allOrNone: false`).
    pub fn each(records: Vec<UpdateRecord>) -> Self {
        CollectionUpdate {
            all_or_none: false,
            records,
        }
    }
}

/// One record of a collections update: its type, id and the fields to set.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UpdateRecord {
    pub attributes: Attributes,
    pub id: String,
    #[serde(flatten)]
    pub fields: BTreeMap<String, String>,
}

impl UpdateRecord {
    /// One field of one record: `UpdateRecord::set("Lead", "00Q…", "Status", "Working")`.
    pub fn set(sobject: &str, id: &str, field: &str, value: &str) -> Self {
        UpdateRecord {
            attributes: Attributes {
                sobject: sobject.into(),
            },
            id: id.into(),
            fields: BTreeMap::from([(field.to_string(), value.to_string())]),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Attributes {
    #[serde(rename = "type")]
    pub sobject: String,
}

/// One record's outcome in a collections answer, in request order.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct SaveResult {
    #[serde(default)]
    pub id: Option<String>,
    pub success: bool,
    #[serde(default)]
    pub errors: Vec<SaveError>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SaveError {
    pub status_code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub fields: Vec<String>,
}

impl SaveResult {
    /// The record is a converted lead: the push goes to its converted contact instead.
    pub fn is_converted_lead(&self) -> bool {
        self.errors
            .iter()
            .any(|e| e.status_code == "CANNOT_UPDATE_CONVERTED_LEAD")
    }
}

/// The org's rolling 24-hour API allocation, from `Sforce-Limit-Info: api-usage=USED/MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiUsage {
    pub used: u64,
    pub max: u64,
}

impl ApiUsage {
    /// Parses the header value. Other parts (`per-app-api-usage=…`) are ignored; `None` when
    /// there is no well-formed `api-usage`.
    pub fn parse(header: &str) -> Option<ApiUsage> {
        header.split([';', ',']).find_map(|part| {
            let (used, max) = part.trim().strip_prefix("api-usage=")?.split_once('/')?;
            Some(ApiUsage {
                used: used.trim().parse().ok()?,
                max: max.trim().parse().ok()?,
            })
        })
    }

    /// Requests left in the allocation.
    pub fn left(self) -> u64 {
        self.max.saturating_sub(self.used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use serde_json::json;

    #[test]
    fn a_query_page_follows_its_locator_until_done() {
        let page: QueryPage<Lead> = serde_json::from_value(json!({
            "totalSize": 3,
            "done": false,
            "nextRecordsUrl": "/services/data/v66.0/query/01gD0000002HU6KIAW-2",
            "records": [
                {"attributes": {"type": "Lead", "url": "/services/data/v66.0/sobjects/Lead/00Q1"},
                 "Id": "00Q1", "Email": "a@x.io", "Status": "Working", "IsConverted": false,
                 "SystemModstamp": "2026-11-30T10:00:00.000+0000", "NumberOfEmployees": 120},
                {"attributes": {"type": "Lead"}, "Id": "00Q2", "IsConverted": true,
                 "ConvertedContactId": "0031", "Status": "Closed - Converted", "Email": null}
            ]
        }))
        .unwrap();
        assert_eq!(page.total_size, 3);
        assert_eq!(
            page.next(),
            Some("/services/data/v66.0/query/01gD0000002HU6KIAW-2")
        );
        assert_eq!(page.records[0].status.as_deref(), Some("Working"));
        assert_eq!(page.records[0].number_of_employees, Some(120));
        assert!(page.records[1].is_converted);
        assert_eq!(
            page.records[1].converted_contact_id.as_deref(),
            Some("0031")
        );
        assert_eq!(page.records[1].email, None);

        let last: QueryPage<Lead> =
            serde_json::from_value(json!({"totalSize": 3, "done": true, "records": []})).unwrap();
        assert_eq!(last.next(), None);
    }

    #[test]
    fn contacts_keep_custom_fields_and_merges() {
        let c: Contact = serde_json::from_value(json!({
            "attributes": {"type": "Contact"}, "Id": "0032", "Email": "b@x.io",
            "Lifecycle_Stage__c": "sql", "Empty__c": "", "IsDeleted": true, "MasterRecordId": "0031"
        }))
        .unwrap();
        assert_eq!(c.text("Lifecycle_Stage__c"), Some("sql"));
        assert_eq!(c.text("Empty__c"), None);
        assert_eq!(c.text("Missing__c"), None);
        assert!(c.is_deleted);
        assert_eq!(c.master_record_id.as_deref(), Some("0031"));
    }

    #[test]
    fn opportunities_and_lead_statuses_read() {
        let o: Opportunity = serde_json::from_value(json!({
            "Id": "0061", "StageName": "Closed Won", "IsClosed": true, "IsWon": true, "ContactId": "0031"
        }))
        .unwrap();
        assert!(o.is_closed && o.is_won);
        let s: QueryPage<LeadStatusValue> = serde_json::from_value(json!({
            "totalSize": 1, "done": true, "records": [
                {"ApiName": "Closed - Converted", "MasterLabel": "Closed - Converted",
                 "SortOrder": 4, "IsConverted": true, "IsDefault": false}
            ]
        }))
        .unwrap();
        assert_eq!(s.records[0].sort_order, 4);
        assert!(s.records[0].is_converted);
    }

    #[test]
    fn the_updated_and_deleted_feeds_read() {
        let u: Updated = serde_json::from_value(json!({
            "ids": ["00Q1", "00Q2"], "latestDateCovered": "2026-12-04T10:00:00.000+0000"
        }))
        .unwrap();
        assert_eq!(u.ids, ["00Q1", "00Q2"]);
        let d: Deleted = serde_json::from_value(json!({
            "deletedRecords": [{"id": "00Q3", "deletedDate": "2026-12-03T09:00:00.000+0000"}],
            "earliestDateAvailable": "2026-11-20T00:00:00.000+0000",
            "latestDateCovered": "2026-12-04T10:00:00.000+0000"
        }))
        .unwrap();
        assert_eq!(d.deleted_records[0].id, "00Q3");
        assert_eq!(d.latest_date_covered, "2026-12-04T10:00:00.000+0000");
    }

    #[test]
    fn the_access_token_is_never_shown() {
        let t: TokenAnswer = serde_json::from_value(json!({
            "access_token": "00Dxx!AQ4AQFsecret", "instance_url": "http://127.0.0.1:1",
            "id": "https://login.salesforce.com/id/00D/005", "token_type": "Bearer",
            "issued_at": "1764844800000", "signature": "abc="
        }))
        .unwrap();
        assert_eq!(t.access_token.expose_secret(), "00Dxx!AQ4AQFsecret");
        assert!(!format!("{t:?}").contains("AQ4AQFsecret"));
        let e: OAuthError = serde_json::from_value(
            json!({"error": "invalid_client", "error_description": "invalid client credentials"}),
        )
        .unwrap();
        assert_eq!(e.error, "invalid_client");
    }

    #[test]
    fn error_arrays_name_their_code() {
        let body = br#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#;
        let e = first_error(body).unwrap();
        assert_eq!(e.error_code, "REQUEST_LIMIT_EXCEEDED");
        assert_eq!(e.message, "TotalRequests Limit exceeded.");
        assert!(e.fields.is_empty());
        assert_eq!(first_error(b"[]"), None);
        assert_eq!(first_error(b"<html>"), None);
    }

    #[test]
    fn a_collection_update_has_the_documented_shape() {
        let body = CollectionUpdate::each(vec![
            UpdateRecord::set("Lead", "00Q1", "Status", "Working"),
            UpdateRecord::set("Contact", "0031", "Lifecycle_Stage__c", "sql"),
        ]);
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"allOrNone": false, "records": [
                {"attributes": {"type": "Lead"}, "id": "00Q1", "Status": "Working"},
                {"attributes": {"type": "Contact"}, "id": "0031", "Lifecycle_Stage__c": "sql"}
            ]})
        );
        let answer: Vec<SaveResult> = serde_json::from_value(json!([
            {"id": "00Q1", "success": true, "errors": []},
            {"success": false, "errors": [{"statusCode": "CANNOT_UPDATE_CONVERTED_LEAD",
              "message": "cannot reference converted lead", "fields": []}]}
        ]))
        .unwrap();
        assert!(answer[0].success && !answer[0].is_converted_lead());
        assert!(!answer[1].success && answer[1].is_converted_lead());
        assert_eq!(answer[1].id, None);
    }

    #[test]
    fn limit_info_gives_what_is_left() {
        let u = ApiUsage::parse("api-usage=18/5000").unwrap();
        assert_eq!((u.used, u.max, u.left()), (18, 5000, 4982));
        let u = ApiUsage::parse("per-app-api-usage=17/250(appName=x); api-usage=25/5000").unwrap();
        assert_eq!((u.used, u.max), (25, 5000));
        assert_eq!(ApiUsage::parse("api-usage=6000/5000").unwrap().left(), 0);
        assert_eq!(ApiUsage::parse("api-usage=x/5000"), None);
        assert_eq!(ApiUsage::parse(""), None);
    }
}
