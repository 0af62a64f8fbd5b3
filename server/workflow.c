/* workflow.c - the dossier state machine as three static tables (states, actions, transitions) and
 * the few functions that read them. Every decision the HTTP layer makes about an action comes from
 * here, and docs/workflow.md is written from the same tables (tests/unit/test_workflow.c checks it). */
#include "workflow.h"

#include <string.h>

#define ROLE_BIT(r) (1u << (r))
#define PORTAL ROLE_BIT(WORKFLOW_ROLE_PORTAL)
#define OFFICIAL ROLE_BIT(WORKFLOW_ROLE_OFFICIAL)
#define NATIONAL ROLE_BIT(WORKFLOW_ROLE_NATIONAL)
#define SYSTEM ROLE_BIT(WORKFLOW_ROLE_SYSTEM)

typedef enum { CLOCK_KEEP, CLOCK_PAUSE, CLOCK_RESUME } clock_effect;

typedef struct {
    const char *name;
    int national;  /* TrangThaiHoSo, DOMAIN.md */
    bool terminal; /* declared, and checked against the transitions by the tests */
    const char *about;
} state_row;

/* identity_mismatch reports 3 (not received), not 8 (processing stopped): the ward never received
 * the dossier, processing never began, and the citizen must submit again with correct data - the
 * same position as a refusal at intake. rejected reports 9 (done): a refusal letter with reasons is
 * the outcome of processing, and it is handed over like any result (then 10). */
static const state_row states[WORKFLOW_ST__COUNT] = {
    [WORKFLOW_ST_SUBMITTED] = {"submitted", 1, false, "written by intake, identity check not yet run"},
    [WORKFLOW_ST_IDENTITY_PENDING] = {"identity_pending", 1, false,
                                      "population database unreachable; parked for the sweeper"},
    [WORKFLOW_ST_IDENTITY_VERIFIED] = {"identity_verified", 1, false,
                                       "applicant matched; waits to be received"},
    [WORKFLOW_ST_IDENTITY_MISMATCH] = {"identity_mismatch", 3, true,
                                       "applicant did not match; never received"},
    [WORKFLOW_ST_RECEIVED] = {"received", 2, false, "received by the ward; the clock runs"},
    [WORKFLOW_ST_REFUSED] = {"refused", 3, true, "refused at intake with a reason"},
    [WORKFLOW_ST_PROCESSING] = {"processing", 4, false, "assigned to an officer"},
    [WORKFLOW_ST_SUPPLEMENT_REQUESTED] = {"supplement_requested", 5, false,
                                          "clock paused until the citizen supplements"},
    [WORKFLOW_ST_PAYMENT_REQUIRED] = {"payment_required", 6, false, "fee requested, not yet paid"},
    [WORKFLOW_ST_WITHDRAWN] = {"withdrawn", 7, true, "withdrawn by the citizen"},
    [WORKFLOW_ST_STOPPED] = {"stopped", 8, true, "processing stopped by the ward"},
    [WORKFLOW_ST_APPROVED] = {"approved", 9, false, "signed result issued"},
    [WORKFLOW_ST_REJECTED] = {"rejected", 9, false, "refusal letter with reasons issued"},
    [WORKFLOW_ST_RESULT_RETURNED] = {"result_returned", 10, true,
                                     "result or refusal letter handed over"},
};

typedef struct {
    const char *name;
    unsigned roles;
    unsigned inputs;
    clock_effect clock;
    const char *about;
} action_row;

/* Citizens reach motcua through the city portal or the national portal, so citizen actions are
 * open to both channels; payment is confirmed by whichever channel (counter or online) took it. */
static const action_row actions[WORKFLOW_ACT__COUNT] = {
    [WORKFLOW_ACT_IDENTITY_OK] = {"identity_ok", SYSTEM, 0, CLOCK_KEEP,
                                  "population database confirmed the applicant"},
    [WORKFLOW_ACT_IDENTITY_MISMATCH] = {"identity_mismatch", SYSTEM, WORKFLOW_IN_REASON, CLOCK_KEEP,
                                        "mismatch or unknown ID; reason names the field"},
    [WORKFLOW_ACT_IDENTITY_PARK] = {"identity_park", SYSTEM, 0, CLOCK_KEEP,
                                    "population database unreachable; retry later"},
    [WORKFLOW_ACT_RECEIVE] = {"receive", OFFICIAL, 0, CLOCK_KEEP, "accept the dossier"},
    [WORKFLOW_ACT_REFUSE] = {"refuse", OFFICIAL, WORKFLOW_IN_REASON, CLOCK_KEEP,
                             "refuse at intake"},
    [WORKFLOW_ACT_ASSIGN] = {"assign", OFFICIAL, WORKFLOW_IN_OFFICER, CLOCK_KEEP,
                             "assign or reassign to an officer"},
    [WORKFLOW_ACT_REQUEST_SUPPLEMENT] = {"request_supplement", OFFICIAL,
                                         WORKFLOW_IN_REASON | WORKFLOW_IN_COMPONENTS, CLOCK_PAUSE,
                                         "ask the citizen for more documents"},
    [WORKFLOW_ACT_SUPPLEMENT] = {"supplement", PORTAL | NATIONAL, WORKFLOW_IN_COMPONENTS,
                                 CLOCK_RESUME, "citizen supplies what was asked"},
    [WORKFLOW_ACT_REQUEST_PAYMENT] = {"request_payment", OFFICIAL, WORKFLOW_IN_FEE, CLOCK_KEEP,
                                      "ask for the fee from the catalog"},
    [WORKFLOW_ACT_MARK_PAID] = {"mark_paid", OFFICIAL | PORTAL | NATIONAL, WORKFLOW_IN_PAYMENT_REF,
                                CLOCK_KEEP, "fee received"},
    [WORKFLOW_ACT_APPROVE] = {"approve", OFFICIAL, 0, CLOCK_KEEP, "issue the signed result"},
    [WORKFLOW_ACT_REJECT] = {"reject", OFFICIAL, WORKFLOW_IN_REASON, CLOCK_KEEP,
                             "issue a refusal letter"},
    [WORKFLOW_ACT_RETURN_RESULT] = {"return_result", OFFICIAL | PORTAL | NATIONAL, 0, CLOCK_KEEP,
                                    "hand the outcome to the citizen"},
    [WORKFLOW_ACT_WITHDRAW] = {"withdraw", PORTAL | NATIONAL, WORKFLOW_IN_REASON, CLOCK_KEEP,
                               "citizen withdraws, only before an outcome"},
    [WORKFLOW_ACT_STOP] = {"stop", OFFICIAL, WORKFLOW_IN_REASON, CLOCK_KEEP,
                           "ward stops processing"},
};

#define T(f, a, t) {WORKFLOW_ST_##f, WORKFLOW_ACT_##a, WORKFLOW_ST_##t}
/* Grouped by from-state; order within a group is the order actions are listed to callers.
 * A supplement always resumes in processing: the state machine keeps no memory of where the
 * request came from, and a dossier that needed a supplement is being worked on. */
static const workflow_transition transitions[] = {
    T(SUBMITTED, IDENTITY_OK, IDENTITY_VERIFIED),
    T(SUBMITTED, IDENTITY_MISMATCH, IDENTITY_MISMATCH),
    T(SUBMITTED, IDENTITY_PARK, IDENTITY_PENDING),
    T(SUBMITTED, REFUSE, REFUSED),
    T(SUBMITTED, WITHDRAW, WITHDRAWN),

    T(IDENTITY_PENDING, IDENTITY_OK, IDENTITY_VERIFIED),
    T(IDENTITY_PENDING, IDENTITY_MISMATCH, IDENTITY_MISMATCH),
    T(IDENTITY_PENDING, REFUSE, REFUSED),
    T(IDENTITY_PENDING, WITHDRAW, WITHDRAWN),

    T(IDENTITY_VERIFIED, RECEIVE, RECEIVED),
    T(IDENTITY_VERIFIED, REFUSE, REFUSED),
    T(IDENTITY_VERIFIED, WITHDRAW, WITHDRAWN),

    T(RECEIVED, ASSIGN, PROCESSING),
    T(RECEIVED, REQUEST_SUPPLEMENT, SUPPLEMENT_REQUESTED),
    T(RECEIVED, REQUEST_PAYMENT, PAYMENT_REQUIRED),
    T(RECEIVED, APPROVE, APPROVED),
    T(RECEIVED, REJECT, REJECTED),
    T(RECEIVED, WITHDRAW, WITHDRAWN),
    T(RECEIVED, STOP, STOPPED),

    T(PROCESSING, ASSIGN, PROCESSING),
    T(PROCESSING, REQUEST_SUPPLEMENT, SUPPLEMENT_REQUESTED),
    T(PROCESSING, REQUEST_PAYMENT, PAYMENT_REQUIRED),
    T(PROCESSING, APPROVE, APPROVED),
    T(PROCESSING, REJECT, REJECTED),
    T(PROCESSING, WITHDRAW, WITHDRAWN),
    T(PROCESSING, STOP, STOPPED),

    T(SUPPLEMENT_REQUESTED, SUPPLEMENT, PROCESSING),
    T(SUPPLEMENT_REQUESTED, REJECT, REJECTED),
    T(SUPPLEMENT_REQUESTED, WITHDRAW, WITHDRAWN),
    T(SUPPLEMENT_REQUESTED, STOP, STOPPED),

    T(PAYMENT_REQUIRED, MARK_PAID, PROCESSING),
    T(PAYMENT_REQUIRED, WITHDRAW, WITHDRAWN),
    T(PAYMENT_REQUIRED, STOP, STOPPED),

    T(APPROVED, RETURN_RESULT, RESULT_RETURNED),
    T(REJECTED, RETURN_RESULT, RESULT_RETURNED),
};
#undef T
#define N_TRANSITIONS (sizeof(transitions) / sizeof(transitions[0]))

static bool state_ok(workflow_state s)
{
    return (unsigned)s < WORKFLOW_ST__COUNT;
}

static bool action_ok(workflow_action a)
{
    return (unsigned)a < WORKFLOW_ACT__COUNT;
}

static bool role_ok(workflow_role r)
{
    return (unsigned)r < WORKFLOW_ROLE__COUNT;
}

static const workflow_transition *find(workflow_state s, workflow_action a)
{
    for (size_t i = 0; i < N_TRANSITIONS; i++)
        if (transitions[i].from == s && transitions[i].action == a)
            return &transitions[i];
    return NULL;
}

/* Append text at *len in buf (cap > 0), truncating; buf stays NUL-terminated. */
static void put(char *buf, size_t cap, size_t *len, const char *text)
{
    size_t n = strlen(text);
    if (*len + 1 >= cap)
        return;
    if (n > cap - 1 - *len)
        n = cap - 1 - *len;
    memcpy(buf + *len, text, n);
    *len += n;
    buf[*len] = '\0';
}

static void conflict_why(workflow_state state, workflow_role role, char *why, size_t cap)
{
    size_t len = 0;
    why[0] = '\0';
    put(why, cap, &len, "dossier is in state '");
    put(why, cap, &len, states[state].name);
    if (states[state].terminal) {
        put(why, cap, &len, "', which is final; no action is allowed");
        return;
    }
    put(why, cap, &len, "'; allowed actions for role '");
    put(why, cap, &len, workflow_role_name(role));
    put(why, cap, &len, "': ");
    workflow_action allowed[WORKFLOW_ACT__COUNT];
    size_t n = workflow_allowed(state, role, allowed, WORKFLOW_ACT__COUNT);
    if (n > WORKFLOW_ACT__COUNT) /* it reports the total; only this many were written */
        n = WORKFLOW_ACT__COUNT;
    if (n == 0)
        put(why, cap, &len, "none");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            put(why, cap, &len, ", ");
        put(why, cap, &len, actions[allowed[i]].name);
    }
}

mc_err workflow_apply(workflow_state state, workflow_action action, workflow_role role,
                      workflow_state *next, char *why, size_t whycap)
{
    if (whycap > 0)
        why[0] = '\0';
    if (!state_ok(state) || !action_ok(action) || !role_ok(role) || !next) {
        if (whycap > 0)
            snprintf(why, whycap, "state, action or role out of range");
        return MC_ERR_INTERNAL;
    }
    if (!(actions[action].roles & ROLE_BIT(role))) {
        if (whycap > 0)
            snprintf(why, whycap, "role '%s' may not %s a dossier", workflow_role_name(role),
                     actions[action].name);
        return MC_ERR_FORBIDDEN;
    }
    const workflow_transition *t = find(state, action);
    if (!t) {
        if (whycap > 0)
            conflict_why(state, role, why, whycap);
        return MC_ERR_CONFLICT;
    }
    *next = t->to;
    return MC_OK;
}

size_t workflow_allowed(workflow_state state, workflow_role role, workflow_action *out, size_t n)
{
    if (!state_ok(state) || !role_ok(role))
        return 0;
    size_t count = 0;
    for (size_t i = 0; i < N_TRANSITIONS; i++) {
        const workflow_transition *t = &transitions[i];
        if (t->from != state || !(actions[t->action].roles & ROLE_BIT(role)))
            continue;
        if (count < n)
            out[count] = t->action;
        count++;
    }
    return count;
}

mc_err workflow_state_parse(const char *name, workflow_state *out)
{
    if (!name)
        return MC_ERR_NOT_FOUND;
    for (int i = 0; i < WORKFLOW_ST__COUNT; i++) {
        if (strcmp(name, states[i].name) == 0) {
            *out = (workflow_state)i;
            return MC_OK;
        }
    }
    return MC_ERR_NOT_FOUND;
}

const char *workflow_state_name(workflow_state s)
{
    return state_ok(s) ? states[s].name : NULL;
}

mc_err workflow_action_parse(const char *name, workflow_action *out)
{
    if (!name)
        return MC_ERR_NOT_FOUND;
    for (int i = 0; i < WORKFLOW_ACT__COUNT; i++) {
        if (strcmp(name, actions[i].name) == 0) {
            *out = (workflow_action)i;
            return MC_OK;
        }
    }
    return MC_ERR_NOT_FOUND;
}

const char *workflow_action_name(workflow_action a)
{
    return action_ok(a) ? actions[a].name : NULL;
}

static const char *const role_names[WORKFLOW_ROLE__COUNT] = {
    [WORKFLOW_ROLE_PORTAL] = "portal",
    [WORKFLOW_ROLE_OFFICIAL] = "official",
    [WORKFLOW_ROLE_NATIONAL] = "national",
    [WORKFLOW_ROLE_SYSTEM] = "system",
};

mc_err workflow_role_parse(const char *name, workflow_role *out)
{
    if (!name)
        return MC_ERR_NOT_FOUND;
    for (int i = 0; i < WORKFLOW_ROLE__COUNT; i++) {
        if (strcmp(name, role_names[i]) == 0) {
            *out = (workflow_role)i;
            return MC_OK;
        }
    }
    return MC_ERR_NOT_FOUND;
}

const char *workflow_role_name(workflow_role r)
{
    return role_ok(r) ? role_names[r] : NULL;
}

int workflow_national_status(workflow_state s)
{
    return state_ok(s) ? states[s].national : 0;
}

bool workflow_is_terminal(workflow_state s)
{
    return state_ok(s) && states[s].terminal;
}

bool workflow_pauses_clock(workflow_action a)
{
    return action_ok(a) && actions[a].clock == CLOCK_PAUSE;
}

bool workflow_resumes_clock(workflow_action a)
{
    return action_ok(a) && actions[a].clock == CLOCK_RESUME;
}

unsigned workflow_action_roles(workflow_action a)
{
    return action_ok(a) ? actions[a].roles : 0;
}

unsigned workflow_action_inputs(workflow_action a)
{
    return action_ok(a) ? actions[a].inputs : 0;
}

size_t workflow_transitions(const workflow_transition **out)
{
    *out = transitions;
    return N_TRANSITIONS;
}

/* ---- generated documentation ---- */

static const char *const national_names[11] = {
    "", "new", "received", "not received", "processing", "supplement requested",
    "payment required", "withdrawn", "stopped", "done", "result returned",
};

/* "portal, national" for a role bit set, into buf (cap > 0). */
static const char *roles_text(unsigned roles, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int r = 0; r < WORKFLOW_ROLE__COUNT; r++) {
        if (!(roles & ROLE_BIT(r)))
            continue;
        if (len > 0)
            put(buf, cap, &len, ", ");
        put(buf, cap, &len, role_names[r]);
    }
    return buf;
}

static const char *inputs_text(unsigned inputs, char *buf, size_t cap)
{
    static const struct {
        unsigned bit;
        const char *name;
    } in[] = {
        {WORKFLOW_IN_REASON, "reason"},   {WORKFLOW_IN_OFFICER, "officer"},
        {WORKFLOW_IN_COMPONENTS, "components"}, {WORKFLOW_IN_FEE, "fee"},
        {WORKFLOW_IN_PAYMENT_REF, "payment_ref"},
    };
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        if (!(inputs & in[i].bit))
            continue;
        if (len > 0)
            put(buf, cap, &len, ", ");
        put(buf, cap, &len, in[i].name);
    }
    if (len == 0)
        put(buf, cap, &len, "-");
    return buf;
}

mc_err workflow_write_mermaid(FILE *f)
{
    char roles[64];
    int bad = 0;
    bad |= fputs("```mermaid\nstateDiagram-v2\n", f) < 0;
    for (int s = 0; s < WORKFLOW_ST__COUNT; s++)
        bad |= fprintf(f, "    %s : %s (%d)\n", states[s].name, states[s].name,
                       states[s].national) < 0;
    bad |= fprintf(f, "    [*] --> %s\n", states[WORKFLOW_ST_SUBMITTED].name) < 0;
    for (size_t i = 0; i < N_TRANSITIONS; i++) {
        const workflow_transition *t = &transitions[i];
        const action_row *a = &actions[t->action];
        bad |= fprintf(f, "    %s --> %s : %s [%s]\n", states[t->from].name, states[t->to].name,
                       a->name, roles_text(a->roles, roles, sizeof(roles))) < 0;
    }
    for (int s = 0; s < WORKFLOW_ST__COUNT; s++)
        if (states[s].terminal)
            bad |= fprintf(f, "    %s --> [*]\n", states[s].name) < 0;
    bad |= fputs("```\n", f) < 0;
    return bad ? MC_ERR_IO : MC_OK;
}

mc_err workflow_write_tables(FILE *f)
{
    char roles[64], inputs[96];
    int bad = 0;
    bad |= fputs("| State | National status | Final | Meaning |\n|---|---|---|---|\n", f) < 0;
    for (int s = 0; s < WORKFLOW_ST__COUNT; s++)
        bad |= fprintf(f, "| `%s` | %d %s | %s | %s |\n", states[s].name, states[s].national,
                       national_names[states[s].national], states[s].terminal ? "yes" : "no",
                       states[s].about) < 0;
    bad |= fputs("\n| Action | Roles | Inputs | Clock | From | To | Meaning |\n"
                 "|---|---|---|---|---|---|---|\n",
                 f) < 0;
    for (int a = 0; a < WORKFLOW_ACT__COUNT; a++) {
        const action_row *r = &actions[a];
        const char *clock = r->clock == CLOCK_PAUSE ? "pauses" : r->clock == CLOCK_RESUME ? "resumes" : "-";
        bad |= fprintf(f, "| `%s` | %s | %s | %s | ", r->name,
                       roles_text(r->roles, roles, sizeof(roles)),
                       inputs_text(r->inputs, inputs, sizeof(inputs)), clock) < 0;
        /* From-states, then the distinct targets, in table order. */
        bool first = true;
        for (size_t i = 0; i < N_TRANSITIONS; i++) {
            if (transitions[i].action != (workflow_action)a)
                continue;
            bad |= fprintf(f, "%s%s", first ? "" : ", ", states[transitions[i].from].name) < 0;
            first = false;
        }
        bad |= fputs(" | ", f) < 0;
        bool seen[WORKFLOW_ST__COUNT] = {false};
        first = true;
        for (size_t i = 0; i < N_TRANSITIONS; i++) {
            if (transitions[i].action != (workflow_action)a || seen[transitions[i].to])
                continue;
            seen[transitions[i].to] = true;
            bad |= fprintf(f, "%s%s", first ? "" : ", ", states[transitions[i].to].name) < 0;
            first = false;
        }
        bad |= fprintf(f, " | %s |\n", r->about) < 0;
    }
    return bad ? MC_ERR_IO : MC_OK;
}
