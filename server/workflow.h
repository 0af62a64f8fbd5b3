/* workflow.h - the dossier state machine: internal states, the actions that move a dossier between
 * them, who may take each action, and the national status code each state reports. Pure and
 * table-driven: no I/O except writing the generated documentation to a caller's FILE. The state and
 * action names are the stable interface (stored in the database and used in URLs); enum values are not. */
#ifndef MC_WORKFLOW_H
#define MC_WORKFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "err.h"

typedef enum {
    WORKFLOW_ST_SUBMITTED,            /* written by intake; identity check not yet run */
    WORKFLOW_ST_IDENTITY_PENDING,     /* population database unreachable: parked for the sweeper */
    WORKFLOW_ST_IDENTITY_VERIFIED,    /* applicant matched; waits for an official to receive it */
    WORKFLOW_ST_IDENTITY_MISMATCH,    /* applicant did not match: not received (terminal) */
    WORKFLOW_ST_RECEIVED,             /* accepted by the ward, the processing clock runs */
    WORKFLOW_ST_REFUSED,              /* refused at intake by an official (terminal) */
    WORKFLOW_ST_PROCESSING,           /* assigned to an officer */
    WORKFLOW_ST_SUPPLEMENT_REQUESTED, /* clock paused until the citizen supplements */
    WORKFLOW_ST_PAYMENT_REQUIRED,     /* fee requested, waits for payment */
    WORKFLOW_ST_WITHDRAWN,            /* withdrawn by the citizen (terminal) */
    WORKFLOW_ST_STOPPED,              /* processing stopped by the ward (terminal) */
    WORKFLOW_ST_APPROVED,             /* signed result issued, not yet handed over */
    WORKFLOW_ST_REJECTED,             /* refusal letter issued, not yet handed over */
    WORKFLOW_ST_RESULT_RETURNED,      /* result or refusal letter handed over (terminal) */
    WORKFLOW_ST__COUNT
} workflow_state;

typedef enum {
    WORKFLOW_ACT_IDENTITY_OK,
    WORKFLOW_ACT_IDENTITY_MISMATCH,
    WORKFLOW_ACT_IDENTITY_PARK,
    WORKFLOW_ACT_RECEIVE,
    WORKFLOW_ACT_REFUSE,
    WORKFLOW_ACT_ASSIGN,
    WORKFLOW_ACT_REQUEST_SUPPLEMENT,
    WORKFLOW_ACT_SUPPLEMENT,
    WORKFLOW_ACT_REQUEST_PAYMENT,
    WORKFLOW_ACT_MARK_PAID,
    WORKFLOW_ACT_APPROVE,
    WORKFLOW_ACT_REJECT,
    WORKFLOW_ACT_RETURN_RESULT,
    WORKFLOW_ACT_WITHDRAW,
    WORKFLOW_ACT_STOP,
    WORKFLOW_ACT__COUNT
} workflow_action;

/* Who acts. Names match auth_role_name() for the API roles, so
 * workflow_role_parse(auth_role_name(client->role)) maps a client; "system" is motcuad itself. */
typedef enum {
    WORKFLOW_ROLE_PORTAL,
    WORKFLOW_ROLE_OFFICIAL,
    WORKFLOW_ROLE_NATIONAL,
    WORKFLOW_ROLE_SYSTEM,
    WORKFLOW_ROLE__COUNT
} workflow_role;

/* Inputs an action requires in its request body (bit set, see workflow_action_inputs). */
#define WORKFLOW_IN_REASON 0x01u      /* citizen-readable reason text */
#define WORKFLOW_IN_OFFICER 0x02u     /* officer to assign */
#define WORKFLOW_IN_COMPONENTS 0x04u  /* list of dossier components concerned */
#define WORKFLOW_IN_FEE 0x08u         /* amount in VND, computed with catalog_fee_total */
#define WORKFLOW_IN_PAYMENT_REF 0x10u /* payment transaction reference */

#define WORKFLOW_WHY_CAP 256 /* enough for any why written by workflow_apply */

/* One row of the transition table: `action` taken in `from` leads to `to`. */
typedef struct {
    workflow_state from;
    workflow_action action;
    workflow_state to;
} workflow_transition;

/* Decide an action. MC_OK: *next is the state the dossier moves to, why (if whycap > 0) is "".
 * MC_ERR_FORBIDDEN: role may never take this action, in any state. MC_ERR_CONFLICT: the action is
 * not allowed from state; why names the state and the actions open to role from it (for the 409
 * problem). MC_ERR_INTERNAL: state, action or role out of range. On any error *next is unchanged.
 * why is always NUL-terminated when whycap > 0, truncated to whycap - 1 chars. */
mc_err workflow_apply(workflow_state state, workflow_action action, workflow_role role,
                      workflow_state *next, char *why, size_t whycap);

/* Actions role may take from state, in table order: writes at most n of them to out and returns
 * how many there are in all (0 for a terminal state or out-of-range arguments). out may be NULL
 * when n is 0. */
size_t workflow_allowed(workflow_state state, workflow_role role, workflow_action *out, size_t n);

/* Name <-> value. Parsers return MC_ERR_NOT_FOUND for an unknown or NULL name (*out unchanged).
 * Name functions return a static string, NULL for an out-of-range value. */
mc_err workflow_state_parse(const char *name, workflow_state *out);
const char *workflow_state_name(workflow_state s);
mc_err workflow_action_parse(const char *name, workflow_action *out);
const char *workflow_action_name(workflow_action a);
mc_err workflow_role_parse(const char *name, workflow_role *out);
const char *workflow_role_name(workflow_role r);

/* National status code (TrangThaiHoSo, 1..10) reported for s; 0 for an out-of-range value. */
int workflow_national_status(workflow_state s);
/* True when no action leads out of s (false for out-of-range values). */
bool workflow_is_terminal(workflow_state s);
/* True when the processing clock pauses on a (request_supplement) / resumes on a (supplement). */
bool workflow_pauses_clock(workflow_action a);
bool workflow_resumes_clock(workflow_action a);
/* Roles that may take a: bit (1u << role) per role; 0 for an out-of-range value. */
unsigned workflow_action_roles(workflow_action a);
/* Required inputs of a: WORKFLOW_IN_* bits; 0 for none or an out-of-range value. */
unsigned workflow_action_inputs(workflow_action a);

/* The whole transition table, static and read-only: *out (out non-NULL) points at it; returns
 * its row count. Tests and tools read it; callers deciding an action use workflow_apply. */
size_t workflow_transitions(const workflow_transition **out);

/* Write the table as a Mermaid stateDiagram-v2 block (with its ``` fence) to f. MC_ERR_IO when a
 * write fails (output may then be partial). */
mc_err workflow_write_mermaid(FILE *f);
/* Write two Markdown tables to f: states with national codes, actions with roles, inputs, clock
 * effect and the states they lead from and to. MC_ERR_IO when a write fails. */
mc_err workflow_write_tables(FILE *f);

#endif
