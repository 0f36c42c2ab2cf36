// memory_bench: how fast agent memory (src/memory/) takes in events, makes
// their vectors and answers a search, and how often the search finds what
// it should, on a real SQLite store at 100k and at 1M events. Prints, one
// per line (100k and 1M are the sizes; N the events so far):
//   ingest@100k: events=<n> events_per_s=<n>
//   index@100k: vectors=<n> vectors_per_s=<n>
//   search@100k: queries=<n> p50_ms=<n> p95_ms=<n> p99_ms=<n> recall@10=<r>
//                lexical_recall@10=<r> vector_recall@10=<r> key_recall@10=<r>
//   search: events=<N> p50_ms=<n> p95_ms=<n>
//   size@100k: db_mb=<n> wal_mb=<n> index_mb=<n> rss_mb=<n> db_bytes_per_event=<n>
//   ... the same four at 1M ...
//   ingest: events_per_s=<n>
//   index: vectors_per_s=<n>
// and, on stderr, details: latency by kind of query, the cost of the parts
// of a search that can be timed through public calls, and the needles the
// fused search missed.
//
// Workload: a deterministic log of a solo business (seeded PRNG; only the
// times move with the day it runs, as they are relative to now). About
// 3,400 entities (customers, projects, vendors, campaigns) with names from
// a syllable generator; ~30 sentence templates (invoices, calls, tickets,
// renewals, deliveries, campaigns...) filled with words drawn from a
// vocabulary of ~2,900 (real business words, then a long tail of product
// and tool names) by a Zipf law; 15-40 words per event, 1-2 entities, some
// facts (plan, seats, stage, amount), four scopes, five types. The stream
// spans the last two years in time order, as a log is written (a few
// events late); --random-times scatters them instead.
//
// Ingest: Memory::record in batches of 1,000; only the record calls are
// timed (the events are made before). Index: Memory::index_pending after
// each size, timed alone: embedding, storing the vectors, adding them to
// the HNSW index (and its saves).
//
// Search: Memory::search with limit 10 (the fused top 10), the index up to
// date, each call timed, after a warm-up. The queries: 300 random ones of
// 2-6 vocabulary words (common and rare; a third name an entity; a third
// carry a filter: entity, scope or since) and the needle queries.
// Needles: 100 events with distinctive content in each segment of the
// stream (the first 100k, the rest), each with a query that paraphrases it
// (other word forms and order, partly other words; 70% name its customer).
// recall@10 = share of needle queries whose event is in the fused top 10;
// the lexical, vector and key figures are the share whose event that
// retriever ranked in its own top 10 (read from SearchHit::matched of a
// second, untimed search that returns every candidate).
//
// Usage: memory_bench [--events N] [--quick] [--random-times] [--keep DIR] [--sample N]
//   --events N  events in all (default 1,000,000); measured at 100k and N
//   --quick     100k events only (a smoke run)
//   --random-times  times at random over the two years instead of in
//               order (an import of old history: the time indexes then
//               take each insert on a random page)
//   --keep DIR  put the store and index in DIR and keep them (default: a
//               temporary directory, deleted at the end)
//   --sample N  print N events (the first N drawn, with times spread over
//               the stream), the needles and 20 random queries, and stop:
//               to see what the data set looks like
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/json.h"
#include "memory/embedder.h"
#include "memory/memory.h"
#include "store/store.h"

namespace cadre {
namespace {
namespace fs = std::filesystem;

constexpr uint64_t kSeed = 20260601;
constexpr int64_t kDefaultEvents = 1'000'000;
constexpr int64_t kFirstSize = 100'000;
constexpr int kBatch = 1000;
constexpr int kNeedlesPerSegment = 100;
constexpr int kRandomQueries = 300;
constexpr int kWarmupQueries = 20;
constexpr int kTopK = 10;
constexpr int kAllCandidates = 150;  // three retrievers x MemoryOptions::candidates
constexpr TimeMs kDayMs = 24LL * 3600 * 1000;
constexpr TimeMs kHistoryMs = 730 * kDayMs;

// --- vocabulary --------------------------------------------------------------
// Real words first, roughly most common first: the Zipf law draws by rank.

constexpr std::string_view kNouns[] = {
    "customer",    "invoice",      "order",         "payment",      "account",       "report",
    "team",        "project",      "meeting",       "call",         "email",         "contract",
    "price",       "plan",         "update",        "issue",        "feature",       "delivery",
    "shipment",    "product",      "service",       "client",       "quote",         "budget",
    "deadline",    "schedule",     "review",        "proposal",     "demo",          "trial",
    "renewal",     "subscription", "license",       "seat",         "user",          "dashboard",
    "integration", "export",       "import",        "data",         "file",          "document",
    "template",    "workflow",     "process",       "task",         "ticket",        "request",
    "question",    "feedback",     "complaint",     "refund",       "discount",      "credit",
    "balance",     "receipt",      "expense",       "cost",         "revenue",       "margin",
    "forecast",    "pipeline",     "lead",          "prospect",     "deal",          "partner",
    "supplier",    "warehouse",    "inventory",     "stock",        "pallet",        "parcel",
    "courier",     "carrier",      "label",         "package",      "return",        "exchange",
    "warranty",    "repair",       "replacement",   "installation", "training",      "onboarding",
    "workshop",    "webinar",      "presentation",  "newsletter",   "campaign",      "ad",
    "post",        "article",      "website",       "page",         "form",          "survey",
    "rating",      "testimonial",  "referral",      "commission",   "bonus",         "payroll",
    "tax",         "vat",          "audit",         "compliance",   "policy",        "agreement",
    "terms",       "signature",    "approval",      "milestone",    "phase",         "sprint",
    "release",     "version",      "bug",           "error",        "outage",        "downtime",
    "latency",     "server",       "backup",        "migration",    "database",      "api",
    "webhook",     "token",        "password",      "login",        "permission",    "role",
    "admin",       "setting",      "configuration", "notification", "reminder",      "alert",
    "calendar",    "appointment",  "visit",         "site",         "office",        "location",
    "region",      "market",       "segment",       "competitor",   "benchmark",     "metric",
    "kpi",         "target",       "goal",          "quota",        "territory",     "channel",
    "source",      "spreadsheet",  "catalog",       "pricing",      "tier",          "upgrade",
    "downgrade",   "cancellation", "churn",         "retention",    "usage",         "limit",
    "storage",     "bandwidth",    "sync",          "mobile",       "app",           "browser",
    "plugin",      "extension",    "module",        "report",       "chart",         "graph",
    "summary",     "note",         "agenda",        "minutes",      "action",        "owner",
    "stakeholder", "sponsor",      "manager",       "director",     "founder",       "accountant",
    "lawyer",      "consultant",   "contractor",    "freelancer",   "designer",      "developer",
    "intern",      "assistant",    "colleague",     "department",   "finance",       "sales",
    "marketing",   "support",      "operations",    "logistics",    "procurement",   "legal",
    "engineering", "design",       "content",       "copy",         "brand",         "logo",
    "banner",      "video",        "photo",         "image",        "asset",         "mockup",
    "prototype",   "wireframe",    "spec",          "requirement",  "scope",         "estimate",
    "timeline",    "roadmap",      "backlog",       "priority",     "risk",          "dependency",
    "blocker",     "handover",     "checklist",     "guide",        "manual",        "tutorial",
    "faq",         "article",      "knowledge",     "case",         "study",         "reference",
    "contact",     "address",      "phone",         "voicemail",    "message",       "chat",
    "thread",      "attachment",   "link",          "folder",       "drive",         "archive",
    "record",      "entry",        "ledger",        "journal",      "statement",     "bank",
    "transfer",    "card",         "wallet",        "currency",     "exchange",      "rate",
    "fee",         "surcharge",    "deposit",       "advance",      "instalment",    "retainer",
    "milestone",   "bundle",       "package",       "offer",        "promotion",     "coupon",
    "voucher",     "gift",         "sample",        "shipment",     "freight",       "customs",
    "duty",        "tariff",       "import",        "pallet",       "container",     "truck",
    "van",         "route",        "dispatch",      "pickup",       "dropoff",       "tracking",
    "barcode",     "scanner",      "printer",       "laptop",       "monitor",       "headset",
    "desk",        "chair",        "license",       "domain",       "certificate",   "hosting",
    "cloud",       "cluster",      "instance",      "deployment",   "pipeline",      "build",
    "test",        "incident",     "postmortem",    "escalation",   "sla",           "uptime",
    "capacity",    "load",         "traffic",       "visitor",      "conversion",    "signup",
    "trial",       "activation",   "cohort",        "funnel",       "segment",       "persona",
    "interview",   "hire",         "candidate",     "offer",        "holiday",       "leave",
    "shift",       "overtime",     "timesheet",     "invoice",      "reimbursement", "mileage",
    "travel",      "hotel",        "flight",        "venue",        "event",         "conference",
    "booth",       "stand",        "flyer",         "brochure",     "poster",        "merch",
    "swag",
};

constexpr std::string_view kAdjectives[] = {
    "new",       "urgent",    "late",          "overdue",   "annual",     "monthly",    "weekly",
    "quarterly", "final",     "initial",       "revised",   "updated",    "missing",    "broken",
    "slow",      "fast",      "manual",        "automatic", "custom",     "standard",   "premium",
    "basic",     "extra",     "partial",       "full",      "pending",    "approved",   "rejected",
    "confirmed", "delayed",   "damaged",       "duplicate", "wrong",      "correct",    "open",
    "closed",    "internal",  "external",      "shared",    "private",    "public",     "local",
    "regional",  "national",  "international", "remote",    "mobile",     "online",     "offline",
    "secure",    "expensive", "cheap",         "simple",    "complex",    "clear",      "unclear",
    "positive",  "negative",  "happy",         "unhappy",   "frustrated", "interested", "ready",
    "busy",      "critical",  "minor",         "major",     "small",      "large",      "big",
    "second",    "next",      "previous",      "recent",    "current",    "old",        "legacy",
    "future",    "temporary", "permanent",     "seasonal",  "flexible",   "fixed",      "signed",
    "unsigned",  "paid",      "unpaid",        "digital",   "physical",   "short",      "long",
    "detailed",  "rough",     "draft",         "official",  "strategic",  "noisy",      "quiet",
    "tight",     "generous",  "fragile",       "bulky",     "heavy",      "light",
};

// base:past (past omitted when it is base + "ed" or base + "d").
constexpr std::string_view kVerbs[] = {
    "send:sent",
    "review",
    "update",
    "confirm",
    "fix",
    "ship:shipped",
    "approve",
    "reject",
    "schedule",
    "reschedule",
    "cancel:cancelled",
    "upgrade",
    "downgrade",
    "renew",
    "migrate",
    "export",
    "import",
    "install",
    "configure",
    "test",
    "deploy",
    "check",
    "escalate",
    "resolve",
    "close",
    "reopen",
    "invoice",
    "pay:paid",
    "refund",
    "charge",
    "quote",
    "negotiate",
    "sign",
    "draft",
    "prepare",
    "share",
    "upload",
    "download",
    "call",
    "email",
    "meet:met",
    "visit",
    "train",
    "onboard",
    "document",
    "track",
    "measure",
    "estimate",
    "forecast:forecast",
    "plan:planned",
    "order",
    "deliver",
    "return",
    "replace",
    "repair",
    "restock",
    "count",
    "reconcile",
    "file",
    "submit:submitted",
    "publish",
    "launch",
    "promote",
    "announce",
    "hire",
    "assign",
    "delegate",
    "postpone",
    "clarify:clarified",
    "summarize",
    "compare",
    "recommend",
    "request",
    "remind",
    "follow",
    "archive",
    "merge",
    "split:split",
    "tag:tagged",
    "flag:flagged",
    "verify:verified",
    "audit",
    "print",
    "scan",
    "pack",
    "label",
    "book",
};

constexpr std::string_view kPeople[] = {
    "Anna",  "Ben",    "Carla", "David", "Elena", "Farid", "Grace",   "Hugo",  "Ines",  "Jonas",
    "Karin", "Leo",    "Maya",  "Nora",  "Omar",  "Paula", "Quentin", "Rosa",  "Sam",   "Tara",
    "Uma",   "Victor", "Wendy", "Yusuf", "Zoe",   "Lars",  "Mei",     "Priya", "Tomas", "Sofia",
    "Ahmed", "Julia",  "Marco", "Nadia", "Oscar", "Petra", "Raj",     "Sven",  "Lena",  "Diego",
};

constexpr std::string_view kRoles[] = {
    "CTO",     "CFO",           "ops lead", "office manager", "head of finance",
    "founder", "IT admin",      "buyer",    "marketing lead", "warehouse manager",
    "COO",     "product owner",
};

constexpr std::string_view kWeekdays[] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"};
constexpr std::string_view kMonths[] = {"January",   "February", "March",    "April",
                                        "May",       "June",     "July",     "August",
                                        "September", "October",  "November", "December"};
constexpr std::string_view kPlans[] = {"Starter", "Pro", "Business", "Enterprise"};
constexpr std::string_view kStages[] = {"lead",     "qualified",   "trial",
                                        "proposal", "negotiation", "active"};
constexpr std::string_view kProjectKinds[] = {"migration", "redesign", "rollout",
                                              "audit",     "portal",   "launch"};
constexpr std::string_view kSeasons[] = {"spring", "summer",  "autumn",
                                         "winter", "holiday", "launch"};

// --- the log's sentences -------------------------------------------------------
// Slots: {C} customer, {P} project, {V} vendor, {K} campaign (as the text
// names them); {N} noun, {A} adjective, {X} verb (past), {B} verb (base);
// {M} amount, {S} seats, {L} plan, {G} stage (these four are the event's
// facts when the template sets them); {Q} a number, {I} an invoice
// number, {R} a person, {T} a role, {D} a weekday, {O} a month.

struct EventTemplate {
  std::string_view type;
  std::string_view scope;
  std::string_view kinds;  // the entities it names, in order: C, P, V, K
  std::string_view facts;  // the facts it sets: L plan, S seats, G stage, M amount
  std::string_view text;
};

constexpr EventTemplate kTemplates[] = {
    {"invoice", "finance", "C", "M",
     "Sent invoice {I} to {C} for {M} covering {N} and {N}; due in {Q} days."},
    {"invoice", "finance", "C", "",
     "{C} paid invoice {I} ({M}) by bank transfer; {R} reconciled it against the {N} ledger."},
    {"call", "sales", "C", "",
     "Call with {R}, the {T} at {C}: discussed {A} {N}, {N} and next steps for the {N} rollout."},
    {"email", "support", "C", "",
     "Support ticket from {C}: {A} {N} when exporting {N}; {R} {X} a workaround and escalated."},
    {"outcome", "sales", "C", "LS",
     "Renewal closed with {C} on the {L} plan for {S} seats, starting {O}."},
    {"note", "sales", "C", "G",
     "{C} moved to stage {G} after the {N} review; {R} will follow up on {D}."},
    {"email", "shared", "CP", "",
     "{R} from {C} emailed about {P}: the {N} is {A} and the {N} needs another pass."},
    {"note", "shared", "P", "", "Status of {P}: {N} done, {N} {A}, waiting on {N} from {R}."},
    {"invoice", "finance", "V", "M",
     "Received a bill from {V} for {M} for {N} and {N}; approved by {R}."},
    {"note", "finance", "V", "",
     "{V} raised prices on {N} by {Q}% from {O}; consider switching {N} suppliers."},
    {"outcome", "shared", "K", "",
     "Results of {K}: {Q} signups, {Q} demos booked, cost per lead {M}; best channel was {N}."},
    {"note", "sales", "KC", "G",
     "{C} came in through {K}, now at stage {G}; interested in {A} {N} and {N}."},
    {"call", "support", "C", "",
     "Onboarding call with {C}: set up {N}, imported {N}, trained {Q} users on {N}."},
    {"email", "support", "C", "",
     "{C} asked how to {B} the {N} in the {N} settings; sent them the {A} guide."},
    {"note", "sales", "C", "SL",
     "Quote sent to {C} for {S} seats of {L} at {M} per year, valid until {O}."},
    {"outcome", "support", "C", "",
     "Resolved the ticket for {C}: {N} {X} after the {A} {N} update; customer confirmed."},
    {"note", "shared", "CV", "",
     "Delivery for {C} via {V} delayed {Q} days because of {A} {N}; informed {R}."},
    {"call", "sales", "C", "",
     "Discovery call with {C}: they use {N} for {N}, pain points are {N} and {A} {N}."},
    {"email", "finance", "C", "M",
     "Payment reminder sent to {C} for invoice {I}, {Q} days overdue, amount {M}."},
    {"note", "shared", "P", "", "Weekly planning: {P} {N} scheduled for {D}; {R} owns the {N}."},
    {"outcome", "sales", "C", "G",
     "{C} churned at the end of {O}; reason given: {A} {N} and {N}. Stage set to {G}."},
    {"email", "sales", "CK", "", "{R} at {C} replied to {K} email asking about {N} and {A} {N}."},
    {"call", "finance", "V", "",
     "Negotiated with {V}: {Q}% discount on {N} if we commit to {Q} months."},
    {"note", "support", "CP", "",
     "{C} feedback on {P}: {A} {N}, confusing {N}, wants {N} exported to {N}."},
    {"invoice", "finance", "CP", "M",
     "Milestone invoice {I} for {P} sent to {C}: {M}, for {N} and {N}."},
    {"note", "sales", "C", "S", "{C} expanded to {S} seats after adding the {N} team."},
    {"outcome", "shared", "P", "",
     "{P} shipped on {D}: {N} live, {N} {X}, retrospective with {R} next week."},
    {"email", "support", "C", "",
     "Bug report from {C}: the {N} page shows {A} {N} after the {N} sync."},
    {"call", "shared", "C", "",
     "Check-in with {C}: happy with {N}, asked about {N} pricing and the {A} {N} roadmap."},
    {"note", "finance", "V", "M", "Paid {V} {M} for {O} {N}; receipt filed under {N}."},
};

// Added until the event has the number of words drawn for it.
constexpr std::string_view kFillers[] = {
    "Also mentioned {N} and {A} {N}.",  "{R} will {B} the {N} by {D}.",
    "Next step: {B} the {N} with {R}.", "Noted {A} {N} around {N}.",
    "Follow up on {N} {N} in {O}.",     "They compared us with {N} for {N}.",
    "Open question about {A} {N}.",     "{R} {X} the {N} and the {A} {N}.",
};

// --- needles -------------------------------------------------------------------
// An event in one wording and a query that paraphrases it: with the
// customer's name ({c}) or, for 30% of them, with the detail ({d}) instead.
// Each template is used five times, with its five details in turn.

struct NeedleTemplate {
  std::string_view event;
  std::string_view query_with_entity;
  std::string_view query_with_detail;
  std::string_view details[5];
};

constexpr NeedleTemplate kNeedles[] = {
    {"{C}'s CTO asked us to reschedule the {d} onboarding workshop to Thursday afternoon.",
     "when is the rescheduled onboarding workshop for {c}",
     "moved {d} onboarding workshop date",
     {"warehouse team", "finance team", "field sales", "night shift", "regional managers"}},
    {"{C} reported that the {d} integration drops every order placed after midnight UTC.",
     "{c} orders lost overnight in the {d} integration",
     "{d} integration losing orders after midnight",
     {"Shopify", "WooCommerce", "Magento", "BigCommerce", "Squarespace"}},
    {"Invoice dispute: {C} says they were billed twice for the {d} add-on in March.",
     "did {c} get double charged for the {d} addon",
     "duplicate billing {d} add-on march",
     {"priority support", "extra storage", "white label", "SSO", "audit log"}},
    {"{C} wants to move from monthly to annual billing if we include {d} at no extra cost.",
     "{c} switching to yearly billing, asking for free {d}",
     "annual plan switch conditional on free {d}",
     {"onboarding calls", "API access", "data export", "custom domains", "phone support"}},
    {"Call with {C}: their procurement needs a signed {d} before the renewal can go through.",
     "what paperwork does {c} procurement require to renew",
     "renewal blocked until procurement gets signed {d}",
     {"data processing agreement", "security questionnaire", "W-9 form", "vendor onboarding packet",
      "insurance certificate"}},
    {"{C} churned: they chose {d} because our reporting lacked cohort charts.",
     "why did {c} cancel and leave us",
     "lost a customer to {d} over missing cohort reports",
     {"Brightgauge", "Metabase", "Looker Studio", "Klipfolio", "Databox"}},
    {"Shipment to {C} arrived with {d} damaged; replacement sent by express courier.",
     "{c} received broken {d}, replacement shipped",
     "damaged {d} delivery replaced via courier",
     {"three monitors", "the ceramic mugs", "two label printers", "the glass panels",
      "the walnut desks"}},
    {"{C}'s support ticket: password reset emails land in spam for their {d} domain.",
     "{c} reset password mails going to junk",
     "password reset email spam folder {d} domain",
     {"Outlook", "Gmail", "Proton", "Zoho", "Yahoo"}},
    {"Demo for {C} went well; their head of operations liked the {d} dashboard most.",
     "which dashboard impressed the {c} ops lead in the demo",
     "operations head favourite {d} dashboard demo",
     {"inventory", "cash flow", "churn", "pipeline", "fulfilment"}},
    {"{C} asked for a 15% discount on {d} licences in exchange for a case study.",
     "{c} wants a discount if they do a case study",
     "case study traded for discounted {d} licenses",
     {"forty", "sixty", "the extra", "contractor", "seasonal"}},
    {"Kickoff with {C} moved to the {d} office because their HQ is being renovated.",
     "where is the {c} kickoff meeting now",
     "kickoff relocated to {d} office during renovation",
     {"Rotterdam", "Lyon", "Leeds", "Porto", "Gdansk"}},
    {"{C} paid the overdue invoice after three reminders; they blame their new {d} system.",
     "{c} late payment excuse",
     "overdue invoice paid, blamed new {d} software",
     {"ERP", "accounts payable", "expense", "procurement", "treasury"}},
    {"Webinar attendee from {C} asked whether we support {d} exports.",
     "does {c} need {d} export support",
     "webinar question about exporting to {d}",
     {"Parquet", "XBRL", "QuickBooks", "DATEV", "SAF-T"}},
    {"{C} is piloting the mobile app with {d} drivers before rolling it out company-wide.",
     "how many drivers in the {c} mobile pilot",
     "mobile app pilot with {d} delivery drivers",
     {"twelve", "eight", "twenty", "five", "thirty"}},
    {"Legal at {C} flagged clause 7 of our terms regarding {d}.",
     "{c} lawyers object to a contract clause",
     "legal concern terms clause seven {d}",
     {"liability caps", "data residency", "auto renewal", "subprocessors", "termination fees"}},
    {"{C}'s founder mentioned they are raising a {d} round and may pause spending.",
     "is {c} fundraising and freezing budget",
     "{d} round founder pausing spend",
     {"seed", "Series A", "bridge", "Series B", "crowdfunding"}},
    {"Translated the help center into {d} for {C}'s regional teams.",
     "{c} help centre translation language",
     "help center localized in {d}",
     {"Portuguese", "Polish", "Turkish", "Vietnamese", "Hungarian"}},
    {"{C} reported slow page loads on the {d} report, around 12 seconds each.",
     "{c} complains {d} report loading slowly",
     "{d} report takes twelve seconds to load",
     {"quarterly revenue", "stock ageing", "commission", "refund", "timesheet"}},
    {"Agreed with {C} to freeze their price for two years in return for a commitment: {d}.",
     "{c} price lock deal terms",
     "two year price freeze for {d} commitment",
     {"three year", "prepaid", "multi-site", "volume", "exclusive"}},
    {"{C} lost admin access after their IT lead left; verified ownership via {d}.",
     "how did we restore admin rights for {c}",
     "admin access recovered, ownership checked by {d}",
     {"DNS record", "notarized letter", "billing card", "video call", "company registry"}},
    {"{C} asked us to bulk import 40,000 contacts from their old {d} account.",
     "{c} contact migration from {d}",
     "importing forty thousand contacts from {d}",
     {"HubSpot", "Pipedrive", "Salesforce", "Zendesk", "Mailchimp"}},
    {"Refunded {C} for the {d} outage on Tuesday as a goodwill gesture.",
     "goodwill credit given to {c} after downtime",
     "refund for tuesday {d} outage",
     {"payment gateway", "email sending", "calendar sync", "single sign-on", "search index"}},
    {"{C} wants invoices addressed to their {d} subsidiary from next quarter.",
     "change {c} billing entity",
     "invoice address switch to {d} subsidiary",
     {"Irish", "Dutch", "Swiss", "Canadian", "Singapore"}},
    {"Site visit at {C}: the {d} room needs two more barcode scanners.",
     "{c} needs extra scanners",
     "barcode scanners short in {d} room",
     {"packing", "returns", "cold storage", "dispatch", "receiving"}},
    {"{C}'s marketing lead wants to co-host a podcast episode about {d}.",
     "podcast collaboration with {c}",
     "co-hosted podcast on {d}",
     {"pricing psychology", "remote hiring", "supply chains", "bootstrapping",
      "customer retention"}},
    {"{C} upgraded from Starter to Business after hitting the {d} limit.",
     "why did {c} upgrade their plan",
     "plan upgrade triggered by {d} limit",
     {"API rate", "user seat", "storage", "workflow", "project"}},
    {"Audit request from {C}: they need every login event for the {d} team since January.",
     "{c} wants login history logs for audit",
     "login audit trail {d} team january",
     {"payroll", "treasury", "compliance", "executive", "contractor"}},
    {"{C} complained that the courier left parcels at the {d} without a signature.",
     "{c} unsigned parcel delivery complaint",
     "parcels dropped at {d} no signature",
     {"loading dock", "reception desk", "side gate", "car park", "mail room"}},
    {"Our {d} vendor invoice for {C}'s project came in 30% over the estimate.",
     "cost overrun on the {c} project",
     "{d} contractor bill thirty percent above quote",
     {"printing", "translation", "video", "photography", "catering"}},
    {"{C} asked to pause their subscription over the summer while the {d} is closed.",
     "{c} seasonal subscription hold",
     "pausing subscription summer {d} shut",
     {"campsite", "ski school", "university canteen", "beach bar", "ice rink"}},
    {"Trial extension granted to {C} because their {d} was on holiday.",
     "why did {c} get more trial days",
     "extended trial since {d} on vacation",
     {"decision maker", "IT admin", "finance director", "project sponsor", "only developer"}},
    {"{C} found a rounding error in VAT on invoices paid in {d}.",
     "{c} tax rounding bug",
     "VAT rounding mistake {d} invoices",
     {"Swiss francs", "Danish kroner", "Czech koruna", "Norwegian krone", "Polish zloty"}},
    {"{C}'s warehouse manager requested training videos on the {d} workflow.",
     "{c} training video request",
     "tutorial videos for {d} process warehouse",
     {"cycle count", "pick and pack", "returns intake", "cross docking", "stock transfer"}},
    {"Signed a referral agreement with {C}: they get 20% of first-year revenue from {d} leads.",
     "{c} referral partner commission",
     "partner referral twenty percent {d} leads",
     {"dental clinic", "law firm", "architecture studio", "veterinary", "accounting firm"}},
    {"{C} switched their SSO provider to {d}, which broke user provisioning.",
     "{c} single sign-on change broke user sync",
     "moved SSO to {d} provisioning failing",
     {"Okta", "Azure AD", "JumpCloud", "OneLogin", "Google Workspace"}},
    {"{C} needs the data retention period cut to {d} to satisfy their auditor.",
     "{c} shorter retention requirement",
     "retention reduced to {d} for auditor",
     {"ninety days", "six months", "one year", "thirty days", "eighteen months"}},
    {"The {C} account manager asked for a printed quote with {d} payment terms.",
     "{c} quote payment terms request",
     "paper quotation with {d} payment terms",
     {"net 60", "net 45", "quarterly", "milestone", "net 90"}},
    {"{C} CFO approved the budget for {d} after seeing the ROI model.",
     "did {c} finance sign off on the spend",
     "chief financial officer approved {d} budget ROI",
     {"phase two", "the analytics add-on", "extra seats", "the hardware refresh",
      "premium support"}},
    {"Noticed {C}'s usage dropped 60% since they reorganised their {d} department.",
     "{c} activity decline after restructure",
     "usage fell sixty percent {d} department reorganization",
     {"logistics", "customer service", "purchasing", "engineering", "sales"}},
    {"{C} offered to beta test the {d} feature and give weekly feedback.",
     "is {c} in the beta program",
     "beta tester weekly feedback {d} feature",
     {"recurring invoices", "route planning", "offline mode", "AI summaries", "multi-currency"}},
};
constexpr int kNeedleTemplates = static_cast<int>(std::size(kNeedles));

// --- drawing -------------------------------------------------------------------

using Rng = std::mt19937_64;

// Ranks 0..n-1 with P(rank k) proportional to 1 / (k + 1)^s.
class Zipf {
 public:
  Zipf(size_t n, double s) : cdf_(n) {
    double sum = 0;
    for (size_t k = 0; k < n; ++k) cdf_[k] = sum += 1.0 / std::pow(static_cast<double>(k + 1), s);
    for (double& c : cdf_) c /= sum;
  }
  size_t operator()(Rng& rng) const {
    double u = std::uniform_real_distribution<double>(0, 1)(rng);
    size_t k = static_cast<size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
    return std::min(k, cdf_.size() - 1);
  }

 private:
  std::vector<double> cdf_;
};

size_t uniform(Rng& rng, size_t n) {
  return std::uniform_int_distribution<size_t>(0, n - 1)(rng);
}
bool chance(Rng& rng, double p) {
  return std::uniform_real_distribution<double>(0, 1)(rng) < p;
}

std::string capitalized(std::string word) {
  if (!word.empty() && word[0] >= 'a' && word[0] <= 'z')
    word[0] = static_cast<char>(word[0] - 'a' + 'A');
  return word;
}

std::string plural(std::string_view noun) {
  std::string out(noun);
  char last = out.back();
  char before = out.size() > 1 ? out[out.size() - 2] : ' ';
  bool vowel_before = std::string_view("aeiou").find(before) != std::string_view::npos;
  if (last == 's' || last == 'x' || out.ends_with("ch") || out.ends_with("sh")) return out + "es";
  if (last == 'y' && !vowel_before) return out.substr(0, out.size() - 1) + "ies";
  return out + "s";
}

int count_words(std::string_view text) {
  int words = 0;
  bool in_word = false;
  for (char c : text) {
    bool space = c == ' ';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

std::string with_thousands(int64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

struct Entity {
  std::string key;      // customer:brenvo
  std::string display;  // how the log's text names it: Brenvo, the Velta migration
  std::string mention;  // how a query names it: brenvo, velta migration
};

struct Needle {
  std::string text;
  std::string query;
  bool names_entity = false;
  std::string entity;
  int64_t label = 0;  // its seq, once recorded
  bool recorded = false;
};

struct Query {
  std::string text;
  MemoryFilter filter;
  TimeMs since_ago = 0;  // > 0: filter.since is set this long before the stream's "now"
  std::string kind;      // "needle", "plain", "filtered"
  int needle = -1;
};

// The data set. Deterministic: everything comes from one seeded PRNG,
// except times, which are relative to `now`.
class Generator {
 public:
  // `total` events make the whole stream, which ends at `now`.
  Generator(uint64_t seed, TimeMs now, int64_t total, bool random_times)
      : rng_(seed),
        now_(now),
        total_(total),
        random_times_(random_times),
        noun_zipf_(1, 1),
        adjective_zipf_(1, 1),
        verb_zipf_(1, 1) {
    for (auto noun : kNouns)
      if (std::find(nouns_.begin(), nouns_.end(), noun) == nouns_.end()) nouns_.emplace_back(noun);
    real_nouns_ = nouns_.size();
    for (auto a : kAdjectives) adjectives_.emplace_back(a);
    for (auto v : kVerbs) {
      auto colon = v.find(':');
      std::string base(v.substr(0, colon));
      std::string past = colon != std::string_view::npos ? std::string(v.substr(colon + 1))
                         : base.back() == 'e'            ? base + "d"
                                                         : base + "ed";
      verbs_.push_back({base, past});
    }
    for (const auto& w : nouns_) taken_.insert(w);
    for (const auto& w : adjectives_) taken_.insert(w);
    for (const auto& [base, past] : verbs_) {
      taken_.insert(base);
      taken_.insert(past);
    }
    for (auto w : {"the", "and", "for", "with", "our", "their", "via", "set", "due", "per"})
      taken_.insert(w);

    // The long tail: names of products, tools and places.
    for (int i = 0; i < 2300; ++i) nouns_.push_back(new_name(2 + (i % 3 == 0)));
    for (int i = 0; i < 2500; ++i) {
      std::string name = new_name(2 + (i % 4 == 0));
      customers_.push_back({"customer:" + name, capitalized(name), name});
    }
    for (int i = 0; i < 400; ++i) {
      std::string name = new_name(2);
      std::string kind(kProjectKinds[i % std::size(kProjectKinds)]);
      projects_.push_back({"project:" + name + "-" + kind, "the " + capitalized(name) + " " + kind,
                           name + " " + kind});
    }
    for (int i = 0; i < 300; ++i) {
      std::string name = new_name(2 + (i % 2));
      vendors_.push_back({"vendor:" + name, capitalized(name), name});
    }
    for (int i = 0; i < 200; ++i) {
      std::string name = new_name(2);
      std::string season(kSeasons[i % std::size(kSeasons)]);
      campaigns_.push_back({"campaign:" + season + "-" + name,
                            "the " + season + " " + capitalized(name) + " campaign",
                            season + " " + name});
    }
    noun_zipf_ = Zipf(nouns_.size(), 1.0);
    adjective_zipf_ = Zipf(adjectives_.size(), 1.0);
    verb_zipf_ = Zipf(verbs_.size(), 1.0);
    customer_zipf_ = std::make_unique<Zipf>(customers_.size(), 0.8);
    project_zipf_ = std::make_unique<Zipf>(projects_.size(), 0.8);
    vendor_zipf_ = std::make_unique<Zipf>(vendors_.size(), 0.8);
    campaign_zipf_ = std::make_unique<Zipf>(campaigns_.size(), 0.8);
  }

  // "Now" for the stream once `position` events were written.
  TimeMs stream_time(int64_t position) const {
    if (random_times_) return now_;
    return now_ - kHistoryMs +
           static_cast<TimeMs>(static_cast<double>(kHistoryMs) * static_cast<double>(position) /
                               static_cast<double>(total_));
  }

  size_t entity_count() const {
    return customers_.size() + projects_.size() + vendors_.size() + campaigns_.size();
  }
  size_t vocabulary_size() const { return nouns_.size() + adjectives_.size() + verbs_.size(); }

  // The event at `position` in the stream.
  MemoryEvent background(int64_t position) {
    const EventTemplate& t = kTemplates[uniform(rng_, std::size(kTemplates))];
    Draw draw;
    draw.seats = static_cast<int>(1 + std::min<size_t>(uniform(rng_, 50), uniform(rng_, 200)));
    draw.amount = 50 * static_cast<int64_t>(2 + std::min(uniform(rng_, 400), uniform(rng_, 2000)));
    draw.plan = std::string(kPlans[uniform(rng_, std::size(kPlans))]);
    draw.stage = std::string(kStages[uniform(rng_, std::size(kStages))]);
    MemoryEvent e;
    e.type = std::string(t.type);
    e.scope = chance(rng_, 0.15) ? "shared" : std::string(t.scope);
    for (char kind : t.kinds) {
      const Entity& entity = pick(kind);
      draw.entities[kind] = &entity;
      e.entities.push_back(entity.key);
    }
    e.text = expand(t.text, draw);
    int target = 15 + static_cast<int>(uniform(rng_, 26));
    for (int words = count_words(e.text); words < target;) {
      std::string more = expand(kFillers[uniform(rng_, std::size(kFillers))], draw);
      int more_words = count_words(more);
      if (words + more_words > 40) break;
      e.text += " " + more;
      words += more_words;
    }
    for (char fact : t.facts) {
      if (fact == 'L') e.facts["plan"] = draw.plan;
      if (fact == 'S') e.facts["seats"] = draw.seats;
      if (fact == 'G') e.facts["stage"] = draw.stage;
      if (fact == 'M') e.facts["amount"] = draw.amount;
    }
    e.at = time_at(position, rng_);
    return e;
  }

  // Needle k: template k % 40 with its detail k / 40 % 5, about a customer.
  Needle needle(int k) {
    Rng rng(kSeed ^ (0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(k + 1)));
    const NeedleTemplate& t = kNeedles[k % kNeedleTemplates];
    std::string_view detail = t.details[(k / kNeedleTemplates) % 5];
    const Entity& customer = customers_[uniform(rng, customers_.size())];
    auto fill = [&](std::string_view pattern) {
      std::string out;
      for (size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] == '{' && i + 2 < pattern.size() && pattern[i + 2] == '}') {
          char slot = pattern[i + 1];
          out += slot == 'C'   ? customer.display
                 : slot == 'c' ? customer.mention
                               : std::string(detail);
          i += 2;
        } else {
          out += pattern[i];
        }
      }
      return out;
    };
    Needle n;
    n.text = fill(t.event);
    n.names_entity = k % 10 != 2 && k % 10 != 5 && k % 10 != 8;
    n.query = fill(n.names_entity ? t.query_with_entity : t.query_with_detail);
    n.entity = customer.key;
    return n;
  }

  MemoryEvent needle_event(const Needle& n, int k, int64_t position) {
    Rng rng(kSeed + static_cast<uint64_t>(k));
    MemoryEvent e;
    e.type = "note";
    e.scope = "shared";
    e.text = n.text;
    e.entities = {n.entity};
    e.at = time_at(position, rng);
    return e;
  }

  // 2-6 words: common ones (by the Zipf law) and rare ones (uniform over the
  // vocabulary); a third name an entity; a third carry a filter.
  Query random_query(Rng& rng) {
    Query q;
    int words = 2 + static_cast<int>(uniform(rng, 5));
    std::vector<std::string> parts;
    const Entity* named = nullptr;
    if (chance(rng, 0.33)) {
      double r = std::uniform_real_distribution<double>(0, 1)(rng);
      named = r < 0.6   ? &customers_[(*customer_zipf_)(rng)]
              : r < 0.8 ? &projects_[(*project_zipf_)(rng)]
                        : &vendors_[(*vendor_zipf_)(rng)];
      parts.push_back(named->mention);
      --words;
    }
    for (int i = 0; i < words; ++i) {
      double r = std::uniform_real_distribution<double>(0, 1)(rng);
      if (r < 0.45) {
        size_t k = noun_zipf_(rng);
        parts.push_back(k < real_nouns_ && chance(rng, 0.3) ? plural(nouns_[k]) : nouns_[k]);
      } else if (r < 0.7) {
        parts.push_back(nouns_[uniform(rng, nouns_.size())]);
      } else if (r < 0.85) {
        parts.push_back(adjectives_[adjective_zipf_(rng)]);
      } else {
        parts.push_back(verbs_[verb_zipf_(rng)].first);
      }
    }
    std::shuffle(parts.begin(), parts.end(), rng);
    for (const auto& p : parts) q.text += (q.text.empty() ? "" : " ") + p;
    double f = std::uniform_real_distribution<double>(0, 1)(rng);
    q.kind = "filtered";
    if (f < 0.15) {
      q.filter.entities = {named ? named->key : customers_[(*customer_zipf_)(rng)].key};
    } else if (f < 0.25) {
      static constexpr std::string_view kScopes[] = {"shared", "sales", "support", "finance"};
      q.filter.scopes = {std::string(kScopes[uniform(rng, std::size(kScopes))])};
    } else if (f < 0.35) {
      q.since_ago = 90 * kDayMs;
    } else {
      q.kind = "plain";
    }
    return q;
  }

 private:
  struct Draw {
    std::map<char, const Entity*> entities;
    int seats = 0;
    int64_t amount = 0;
    std::string plan, stage;
  };

  // A pronounceable name nobody has yet: consonant-vowel syllables.
  std::string new_name(int syllables) {
    static constexpr std::string_view kOnsets[] = {
        "b", "br", "c", "ch", "d",  "dr", "f", "g",  "gr", "h",  "j", "k", "kr",
        "l", "m",  "n", "p",  "pl", "r",  "s", "st", "t",  "tr", "v", "w", "z"};
    static constexpr std::string_view kVowels[] = {"a", "e", "i", "o", "u", "ai", "ea", "io", "ou"};
    static constexpr std::string_view kCodas[] = {"",  "",  "",  "n", "r",  "l",
                                                  "s", "x", "m", "k", "nd", "rt"};
    while (true) {
      std::string name;
      for (int s = 0; s < syllables; ++s) {
        name += kOnsets[uniform(rng_, std::size(kOnsets))];
        name += kVowels[uniform(rng_, std::size(kVowels))];
      }
      name += kCodas[uniform(rng_, std::size(kCodas))];
      if (name.size() >= 4 && taken_.insert(name).second) return name;
    }
  }

  const Entity& pick(char kind) {
    switch (kind) {
      case 'C':
        return customers_[(*customer_zipf_)(rng_)];
      case 'P':
        return projects_[(*project_zipf_)(rng_)];
      case 'V':
        return vendors_[(*vendor_zipf_)(rng_)];
      default:
        return campaigns_[(*campaign_zipf_)(rng_)];
    }
  }

  std::string noun() {
    size_t k = noun_zipf_(rng_);
    return k < real_nouns_ && chance(rng_, 0.3) ? plural(nouns_[k]) : nouns_[k];
  }

  std::string expand(std::string_view pattern, const Draw& draw) {
    std::string out;
    out.reserve(pattern.size() * 2);
    for (size_t i = 0; i < pattern.size(); ++i) {
      if (pattern[i] != '{' || i + 2 >= pattern.size() || pattern[i + 2] != '}') {
        out += pattern[i];
        continue;
      }
      char slot = pattern[i + 1];
      i += 2;
      switch (slot) {
        case 'C':
        case 'P':
        case 'V':
        case 'K': {
          auto it = draw.entities.find(slot);
          out += it != draw.entities.end() ? it->second->display : pick(slot).display;
          break;
        }
        case 'N':
          out += noun();
          break;
        case 'A':
          out += adjectives_[adjective_zipf_(rng_)];
          break;
        case 'X':
          out += verbs_[verb_zipf_(rng_)].second;
          break;
        case 'B':
          out += verbs_[verb_zipf_(rng_)].first;
          break;
        case 'M':
          out += "$" + with_thousands(draw.amount);
          break;
        case 'S':
          out += std::to_string(draw.seats);
          break;
        case 'L':
          out += draw.plan;
          break;
        case 'G':
          out += draw.stage;
          break;
        case 'Q':
          out += std::to_string(2 + uniform(rng_, 58));
          break;
        case 'I':
          out += "INV-" + std::to_string(10000 + invoice_++);
          break;
        case 'R':
          out += kPeople[uniform(rng_, std::size(kPeople))];
          break;
        case 'T':
          out += kRoles[uniform(rng_, std::size(kRoles))];
          break;
        case 'D':
          out += kWeekdays[uniform(rng_, std::size(kWeekdays))];
          break;
        case 'O':
          out += kMonths[uniform(rng_, std::size(kMonths))];
          break;
        default:
          out += slot;
      }
    }
    return out;
  }

  // Events come in time order: the stream's clock at `position`, give or
  // take six hours, and one in twenty is written up to a week late. With
  // --random-times, any time in the two years (an import of old history).
  TimeMs time_at(int64_t position, Rng& rng) const {
    if (random_times_) return now_ - std::uniform_int_distribution<TimeMs>(0, kHistoryMs)(rng);
    TimeMs at = stream_time(position);
    if (chance(rng, 0.05)) {
      at -= std::uniform_int_distribution<TimeMs>(0, 7 * kDayMs)(rng);
    } else {
      at += std::uniform_int_distribution<TimeMs>(-6 * 3600 * 1000, 6 * 3600 * 1000)(rng);
    }
    return std::min(at, now_);
  }

  Rng rng_;
  TimeMs now_;
  int64_t total_;
  bool random_times_;
  std::set<std::string> taken_;
  std::vector<std::string> nouns_;
  size_t real_nouns_ = 0;
  std::vector<std::string> adjectives_;
  std::vector<std::pair<std::string, std::string>> verbs_;
  std::vector<Entity> customers_, projects_, vendors_, campaigns_;
  Zipf noun_zipf_, adjective_zipf_, verb_zipf_;
  std::unique_ptr<Zipf> customer_zipf_, project_zipf_, vendor_zipf_, campaign_zipf_;
  int64_t invoice_ = 0;
};

// --- measuring -----------------------------------------------------------------

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

double proc_status_mb(const char* field) {
  std::ifstream status("/proc/self/status");
  size_t length = std::string_view(field).size();
  for (std::string line; std::getline(status, line);) {
    if (line.compare(0, length, field) == 0) return std::atof(line.substr(length).c_str()) / 1024.0;
  }
  return -1;
}

double file_mb(const fs::path& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  return ec ? 0 : static_cast<double>(size) / (1024.0 * 1024.0);
}

std::string size_label(int64_t events) {
  if (events % 1'000'000 == 0) return std::to_string(events / 1'000'000) + "M";
  if (events % 1000 == 0) return std::to_string(events / 1000) + "k";
  return std::to_string(events);
}

struct BenchOptions {
  int64_t events = kDefaultEvents;
  bool quick = false;
  fs::path keep;   // empty: a temporary directory, deleted at the end
  int sample = 0;  // > 0: print that many events (and the needles), run nothing
  bool random_times = false;
};

void print_sample(const BenchOptions& options) {
  Generator generator(kSeed, SystemClock::instance().now_ms(), options.events,
                      options.random_times);
  for (int i = 0; i < options.sample; ++i) {
    MemoryEvent e = generator.background(i * (options.events / options.sample));
    std::printf("%s %-7s %-7s %s %s | %s\n", format_time_utc(e.at).substr(0, 10).c_str(),
                e.type.c_str(), e.scope.c_str(), dump_json(Json(e.entities)).c_str(),
                dump_json(e.facts).c_str(), e.text.c_str());
  }
  for (int k = 0; k < 2 * kNeedlesPerSegment; ++k) {
    Needle n = generator.needle(k);
    std::printf("needle %3d %s | %s\n      query: %s\n", k, n.entity.c_str(), n.text.c_str(),
                n.query.c_str());
  }
  Rng rng(kSeed + 1);
  for (int i = 0; i < 20; ++i) {
    Query q = generator.random_query(rng);
    std::printf(
        "query %-8s %s%s%s\n", q.kind.c_str(), q.text.c_str(),
        q.filter.entities.empty() ? "" : ("  [entity " + q.filter.entities[0] + "]").c_str(),
        q.filter.scopes.empty() ? "" : ("  [scope " + q.filter.scopes[0] + "]").c_str());
  }
}

// While index_pending runs (minutes at 1M events), says every 30 s how
// many vectors the saved index holds, read from the index's sidecar file
// (its format belongs to memory/vector_index.cpp: this is a hint only).
class IndexProgress {
 public:
  IndexProgress(fs::path sidecar, std::string label)
      : sidecar_(std::move(sidecar)), label_(std::move(label)), thread_([this] { watch(); }) {}
  ~IndexProgress() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  void watch() {
    auto start = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::seconds(30), [this] { return done_; })) {
      std::ifstream in(sidecar_);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      auto sidecar = parse_json(text, sidecar_.string());
      long long saved = sidecar.ok() && sidecar->is_object() ? sidecar->value("count", 0LL) : 0;
      std::fprintf(stderr, "  (index@%s: %.0f s, %lld vectors in the saved index)\n",
                   label_.c_str(), seconds_since(start), saved);
    }
  }

  fs::path sidecar_;
  std::string label_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the rest is ready
};

class MemoryBench {
 public:
  MemoryBench(const BenchOptions& options, fs::path dir)
      : options_(options),
        dir_(std::move(dir)),
        generator_(kSeed, SystemClock::instance().now_ms(),
                   options.quick ? std::min(kFirstSize, options.events) : options.events,
                   options.random_times) {}

  Status run() {
    StoreOptions store_options;
    store_options.path = (dir_ / "cadre.db").string();
    store_options.synchronous_full = false;
    CADRE_ASSIGN_OR_RETURN(store_, open_sqlite_store(store_options));
    MemoryOptions memory_options;
    memory_options.index_file = dir_ / "vectors.hnsw";
    memory_ = std::make_unique<Memory>(store_->memory(), make_hashing_embedder(), memory_options,
                                       SystemClock::instance());
    query_embedder_ = make_hashing_embedder();

    std::vector<int64_t> sizes = {std::min(kFirstSize, options_.events)};
    if (!options_.quick && options_.events > sizes[0]) sizes.push_back(options_.events);
    plan_needles(sizes);
    Rng query_rng(kSeed + 1);
    for (int i = 0; i < kRandomQueries; ++i)
      random_queries_.push_back(generator_.random_query(query_rng));
    Rng warmup_rng(kSeed + 2);
    for (int i = 0; i < kWarmupQueries; ++i)
      warmup_queries_.push_back(generator_.random_query(warmup_rng));
    std::fprintf(stderr, "  (data: %zu entities, %zu vocabulary words, %zu needles, store in %s)\n",
                 generator_.entity_count(), generator_.vocabulary_size(), needles_.size(),
                 dir_.c_str());

    for (int64_t size : sizes) {
      CADRE_RETURN_IF_ERROR(ingest_until(size));
      CADRE_RETURN_IF_ERROR(index(size));
      CADRE_RETURN_IF_ERROR(measure_search(size));
      report_size(size);
    }
    std::printf("ingest: events_per_s=%.0f\n", static_cast<double>(recorded_) / record_seconds_);
    std::printf("index: vectors_per_s=%.0f\n", static_cast<double>(recorded_) / index_seconds_);
    std::fflush(stdout);
    std::fprintf(stderr, "  (generating events took %.1f s, untimed)\n", generate_seconds_);
    memory_.reset();
    store_.reset();
    return Status::Ok();
  }

 private:
  // kNeedlesPerSegment needles, evenly spaced, in each segment of the
  // stream between sizes; each replaces the background event at its place.
  void plan_needles(const std::vector<int64_t>& sizes) {
    int64_t start = 0;
    for (int64_t end : sizes) {
      int64_t length = end - start;
      for (int i = 0; i < kNeedlesPerSegment && length > 0; ++i) {
        int k = static_cast<int>(needles_.size());
        needle_at_[start + (length * i) / kNeedlesPerSegment + length / (2 * kNeedlesPerSegment)] =
            k;
        needles_.push_back(generator_.needle(k));
      }
      start = end;
    }
  }

  Status ingest_until(int64_t size) {
    int64_t first = recorded_;
    double seconds = 0;
    while (recorded_ < size) {
      auto made = std::chrono::steady_clock::now();
      int count = static_cast<int>(std::min<int64_t>(kBatch, size - recorded_));
      std::vector<MemoryEvent> batch;
      batch.reserve(static_cast<size_t>(count));
      std::vector<std::pair<size_t, int>> needles_in_batch;  // (index in batch, needle)
      for (int i = 0; i < count; ++i) {
        auto needle = needle_at_.find(recorded_ + i);
        if (needle != needle_at_.end()) {
          needles_in_batch.emplace_back(batch.size(), needle->second);
          batch.push_back(
              generator_.needle_event(needles_[needle->second], needle->second, recorded_ + i));
        } else {
          batch.push_back(generator_.background(recorded_ + i));
        }
      }
      generate_seconds_ += seconds_since(made);
      auto start = std::chrono::steady_clock::now();
      auto stored = memory_->record(std::move(batch));
      seconds += seconds_since(start);
      if (!stored.ok())
        return stored.status().with_context("Memory::record at event " + std::to_string(recorded_));
      for (auto [index, k] : needles_in_batch) {
        needles_[k].label = (*stored)[index].seq;
        needles_[k].recorded = true;
      }
      recorded_ += count;
    }
    record_seconds_ += seconds;
    std::printf("ingest@%s: events=%lld events_per_s=%.0f\n", size_label(size).c_str(),
                static_cast<long long>(size - first), static_cast<double>(size - first) / seconds);
    std::fflush(stdout);
    return Status::Ok();
  }

  Status index(int64_t size) {
    auto start = std::chrono::steady_clock::now();
    Status indexed;
    {
      IndexProgress progress(dir_ / "vectors.hnsw.json", size_label(size));
      indexed = memory_->index_pending();
    }
    if (!indexed.ok()) return indexed.with_context("Memory::index_pending");
    double seconds = seconds_since(start);
    index_seconds_ += seconds;
    int64_t vectors = recorded_ - indexed_;
    indexed_ = recorded_;
    std::printf("index@%s: vectors=%lld vectors_per_s=%.0f\n", size_label(size).c_str(),
                static_cast<long long>(vectors), static_cast<double>(vectors) / seconds);
    std::fflush(stdout);
    return Status::Ok();
  }

  Result<SearchResult> search(const Query& query, int limit) {
    SearchRequest request;
    request.query = query.text;
    request.filter = query.filter;
    request.limit = limit;
    auto result = memory_->search(request);
    if (!result.ok()) return result.status().with_context("Memory::search '" + query.text + "'");
    if (!result->warnings.empty()) {
      return Status::Internal("Memory::search '" + query.text +
                              "' warned: " + result->warnings.front());
    }
    return result;
  }

  Status measure_search(int64_t size) {
    std::vector<Query> queries = random_queries_;
    std::vector<Query> warmup_queries = warmup_queries_;
    for (size_t k = 0; k < needles_.size(); ++k) {
      if (!needles_[k].recorded) continue;
      queries.push_back({needles_[k].query, {}, 0, "needle", static_cast<int>(k)});
    }
    for (auto& q : queries) {
      if (q.since_ago > 0) q.filter.since = generator_.stream_time(recorded_) - q.since_ago;
    }
    for (auto& q : warmup_queries) {
      if (q.since_ago > 0) q.filter.since = generator_.stream_time(recorded_) - q.since_ago;
    }
    // Interleave the needles with the random queries, the same way at every size.
    std::shuffle(queries.begin(), queries.end(), Rng(kSeed + 3));
    for (const auto& q : warmup_queries) CADRE_RETURN_IF_ERROR(search(q, kTopK).status());

    std::map<std::string, std::vector<double>> by_kind;
    std::vector<double> all, embed_ms, lexical_ms;
    int needles = 0, found = 0, found_lexical = 0, found_vector = 0, found_key = 0;
    int needles_named = 0, found_named = 0;
    std::vector<std::string> missed;
    double hits_total = 0;
    for (const auto& q : queries) {
      auto start = std::chrono::steady_clock::now();
      CADRE_ASSIGN_OR_RETURN(SearchResult result, search(q, kTopK));
      double ms = seconds_since(start) * 1000;
      all.push_back(ms);
      by_kind[q.kind].push_back(ms);
      hits_total += static_cast<double>(result.hits.size());
      time_parts(q, &embed_ms, &lexical_ms);
      if (q.needle < 0) continue;
      const Needle& needle = needles_[q.needle];
      ++needles;
      needles_named += needle.names_entity;
      bool hit = std::any_of(result.hits.begin(), result.hits.end(), [&](const SearchHit& h) {
        return h.kind == "event" && h.label == needle.label;
      });
      found += hit;
      found_named += hit && needle.names_entity;
      if (!hit) missed.push_back(q.text);
      // Every candidate, to see where each retriever ranked the needle.
      CADRE_ASSIGN_OR_RETURN(SearchResult every, search(q, kAllCandidates));
      for (const auto& h : every.hits) {
        if (h.kind != "event" || h.label != needle.label) continue;
        auto within = [&](const char* retriever) {
          return h.matched.contains(retriever) && h.matched[retriever].get<int>() <= kTopK;
        };
        found_lexical += within("lexical");
        found_vector += within("vector");
        found_key += within("key");
      }
    }
    auto share = [&](int n, int of) { return of > 0 ? static_cast<double>(n) / of : 0.0; };
    std::string label = size_label(size);
    std::printf(
        "search@%s: queries=%zu p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f recall@10=%.3f "
        "lexical_recall@10=%.3f vector_recall@10=%.3f key_recall@10=%.3f\n",
        label.c_str(), all.size(), percentile(all, 0.50), percentile(all, 0.95),
        percentile(all, 0.99), share(found, needles), share(found_lexical, needles),
        share(found_vector, needles), share(found_key, needles));
    std::printf("search: events=%lld p50_ms=%.2f p95_ms=%.2f\n", static_cast<long long>(size),
                percentile(all, 0.50), percentile(all, 0.95));
    std::fflush(stdout);
    for (const auto& [kind, ms] : by_kind) {
      std::fprintf(stderr,
                   "  (search@%s %-8s: %3zu queries, p50 %.2f ms, p95 %.2f ms, max %.2f ms)\n",
                   label.c_str(), kind.c_str(), ms.size(), percentile(ms, 0.5),
                   percentile(ms, 0.95), percentile(ms, 1.0));
    }
    std::fprintf(
        stderr,
        "  (search@%s parts, p50/p95: embedding the query %.3f/%.3f ms, store lexical_search "
        "of all content words OR-ed, 50 candidates: %.2f/%.2f ms; %.1f hits per query)\n",
        label.c_str(), percentile(embed_ms, 0.5), percentile(embed_ms, 0.95),
        percentile(lexical_ms, 0.5), percentile(lexical_ms, 0.95),
        hits_total / static_cast<double>(queries.size()));
    std::fprintf(
        stderr,
        "  (search@%s recall@10: %d/%d needles; naming the customer %d/%d, by detail %d/%d)\n",
        label.c_str(), found, needles, found_named, needles_named, found - found_named,
        needles - needles_named);
    for (size_t i = 0; i < missed.size() && i < 8; ++i) {
      std::fprintf(stderr, "  (search@%s missed: \"%s\")\n", label.c_str(), missed[i].c_str());
    }
    return Status::Ok();
  }

  // Two costs behind a search, timed alone through public calls (outside the
  // figures above): embedding the query, and the store's full-text search
  // for the OR of all the query's content words with 50 candidates (what an
  // unpruned lexical retriever pays; Memory may leave common words out).
  void time_parts(const Query& q, std::vector<double>* embed_ms, std::vector<double>* lexical_ms) {
    auto start = std::chrono::steady_clock::now();
    (void)query_embedder_->embed({q.text}, nullptr);
    embed_ms->push_back(seconds_since(start) * 1000);
    std::string fts;
    std::set<std::string> seen;
    for (const auto& word : content_words(q.text)) {
      if (!seen.insert(word).second) continue;
      fts += (fts.empty() ? "\"" : " OR \"") + word + "\"";
    }
    if (fts.empty()) return;
    start = std::chrono::steady_clock::now();
    (void)store_->memory().lexical_search(fts, q.filter, 50);
    lexical_ms->push_back(seconds_since(start) * 1000);
  }

  // The database file without its WAL (which holds pages not yet copied
  // back, and keeps its largest size until it is truncated).
  void report_size(int64_t size) {
    double db_mb = file_mb(dir_ / "cadre.db");
    std::printf(
        "size@%s: db_mb=%.1f wal_mb=%.1f index_mb=%.1f rss_mb=%.1f db_bytes_per_event=%.0f\n",
        size_label(size).c_str(), db_mb, file_mb(dir_ / "cadre.db-wal"),
        file_mb(dir_ / "vectors.hnsw"), proc_status_mb("VmRSS:"),
        db_mb * 1024 * 1024 / static_cast<double>(size));
    std::fflush(stdout);
    std::fprintf(stderr, "  (size@%s: peak rss %.1f MB)\n", size_label(size).c_str(),
                 proc_status_mb("VmHWM:"));
  }

  BenchOptions options_;
  fs::path dir_;
  Generator generator_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Memory> memory_;
  std::unique_ptr<Embedder> query_embedder_;
  std::vector<Needle> needles_;
  std::map<int64_t, int> needle_at_;  // position in the stream -> needle
  std::vector<Query> random_queries_, warmup_queries_;
  int64_t recorded_ = 0;
  int64_t indexed_ = 0;
  double record_seconds_ = 0;
  double index_seconds_ = 0;
  double generate_seconds_ = 0;
};

int usage() {
  std::fprintf(
      stderr,
      "usage: memory_bench [--events N] [--quick] [--random-times] [--keep DIR] [--sample N]\n");
  return 2;
}

}  // namespace
}  // namespace cadre

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  spdlog::set_level(spdlog::level::warn);
  cadre::BenchOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--quick") {
      options.quick = true;
    } else if (arg == "--events" && i + 1 < argc) {
      options.events = std::atoll(argv[++i]);
      if (options.events < cadre::kBatch) return cadre::usage();
    } else if (arg == "--keep" && i + 1 < argc) {
      options.keep = argv[++i];
    } else if (arg == "--random-times") {
      options.random_times = true;
    } else if (arg == "--sample" && i + 1 < argc) {
      options.sample = std::atoi(argv[++i]);
    } else {
      return cadre::usage();
    }
  }
  if (options.sample > 0) {
    cadre::print_sample(options);
    return 0;
  }
  fs::path dir = options.keep;
  if (dir.empty()) {
    dir = fs::temp_directory_path() / ("cadre-bench-memory-" + std::to_string(getpid()));
    fs::remove_all(dir);
  } else if (fs::exists(dir / "cadre.db")) {
    std::fprintf(stderr, "memory_bench: %s holds a store already; give an empty or new directory\n",
                 dir.c_str());
    return 2;
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "memory_bench: cannot create %s: %s\n", dir.c_str(), ec.message().c_str());
    return 1;
  }
  auto start = std::chrono::steady_clock::now();
  cadre::Status status = cadre::MemoryBench(options, dir).run();
  std::fprintf(stderr, "  (wall time %.1f s)\n", cadre::seconds_since(start));
  if (options.keep.empty()) fs::remove_all(dir, ec);
  if (!status.ok()) {
    std::fprintf(stderr, "memory_bench: %s\n", status.to_string().c_str());
    return 1;
  }
  return 0;
}
