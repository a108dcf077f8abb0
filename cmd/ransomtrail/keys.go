package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/internal/dirlock"
	"github.com/ransomtrail/ransomtrail/state"
)

func keysCreateCommand() command {
	return command{name: "keys create", summary: "create an API key (admin, analyst or screening); the key is printed once", run: runKeysCreate}
}

func keysListCommand() command {
	return command{name: "keys list", summary: "list API keys (IDs, names, roles; never the keys)", run: runKeysList}
}

func keysRevokeCommand() command {
	return command{name: "keys revoke", summary: "revoke an API key by ID", run: runKeysRevoke}
}

// openKeyState opens the state store for a keys command; when a running
// server holds it (and only then: follow has no API), the error says
// where keys are managed meanwhile.
func openKeyState(e *env, data string, use state.Use) (state.Store, error) {
	st, err := openState(e, data, use)
	var inUse *dirlock.InUseError
	if errors.As(err, &inUse) && inUse.Holder != nil && inUse.Holder.LongRunning && inUse.Holder.API != "" {
		return nil, fmt.Errorf("%w (keys meanwhile: /api/v2/keys with an admin key)", err)
	}
	return st, err
}

func runKeysCreate(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory (keys are stored hashed in DIR/state)")
	role := fs.String("role", "", "admin, analyst or screening")
	name := fs.String("name", "", "who or what the key is for")
	jsonOut := fs.Bool("json", false, "print the record as JSON (with the key) instead")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *role == "" {
		return &usageError{"usage: ransomtrail keys create --role admin|analyst|screening --data DIR [--name N] [--json]"}
	}
	st, err := openKeyState(e, *data, state.UseWrite)
	if err != nil {
		return err
	}
	defer st.Close()
	key, rec, err := state.NewAPIKey(nil, *role, *name, time.Now())
	if err != nil {
		return err
	}
	audit := api.KeyAudit("cli", "create", rec, rec.Created)
	if err := st.Keys().Create(ctx, rec, &audit); err != nil {
		return err
	}
	if *jsonOut {
		return writeJSON(e.stdout, struct {
			ID      string    `json:"id"`
			Name    string    `json:"name"`
			Role    string    `json:"role"`
			Created time.Time `json:"created"`
			Key     string    `json:"key"`
		}{rec.ID, rec.Name, rec.Role, rec.Created, key})
	}
	fmt.Fprintf(e.stdout, "created %s key %s%s; it is shown only this once (send it as the X-API-Key header):\n", rec.Role, rec.ID, nameSuffix(rec.Name))
	fmt.Fprintln(e.stdout, key)
	return nil
}

func nameSuffix(n string) string {
	if n == "" {
		return ""
	}
	return fmt.Sprintf(" (%s)", n)
}

func runKeysList(ctx context.Context, e *env, args []string) error {
	_, data, jsonOut, err := queryArgs(e, "keys list", "ransomtrail keys list --data DIR [--json]", 0, args)
	if err != nil {
		return err
	}
	st, err := openKeyState(e, data, state.UseRead)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := st.Keys().List(ctx)
	if err != nil {
		return err
	}
	type keyView struct {
		ID      string     `json:"id"`
		Name    string     `json:"name"`
		Role    string     `json:"role"`
		Created time.Time  `json:"created"`
		Revoked *time.Time `json:"revoked"`
	}
	out := make([]keyView, 0, len(keys))
	for _, k := range keys {
		out = append(out, keyView{k.ID, k.Name, k.Role, k.Created, k.Revoked})
	}
	if jsonOut {
		return writeJSON(e.stdout, out)
	}
	if len(out) == 0 {
		fmt.Fprintln(e.stdout, "no API keys (create one with 'ransomtrail keys create --role R --data DIR')")
		return nil
	}
	for _, k := range out {
		status := "active"
		if k.Revoked != nil {
			status = "revoked " + k.Revoked.Format(time.RFC3339)
		}
		fmt.Fprintf(e.stdout, "%s  %-9s  %s  %s  %s\n", k.ID, k.Role, k.Created.Format(time.RFC3339), status, strings.TrimSpace(k.Name))
	}
	return nil
}

func runKeysRevoke(ctx context.Context, e *env, args []string) error {
	pos, data, jsonOut, err := queryArgs(e, "keys revoke", "ransomtrail keys revoke ID --data DIR [--json]", 1, args)
	if err != nil {
		return err
	}
	st, err := openKeyState(e, data, state.UseExisting)
	if err != nil {
		return err
	}
	defer st.Close()
	id := strings.TrimSpace(pos[0])
	if kid, ok := state.APIKeyID(id); ok {
		id = kid // a whole key was given: revoke it by its ID
	}
	now := time.Now()
	if err := st.Keys().Revoke(ctx, id, now, func(k state.APIKey) state.AuditEntry { return api.KeyAudit("cli", "revoke", k, now) }); err != nil {
		return err
	}
	k, err := st.Keys().Get(ctx, id)
	if err != nil {
		return err
	}
	if jsonOut {
		return writeJSON(e.stdout, map[string]any{"id": k.ID, "revoked": k.Revoked})
	}
	fmt.Fprintf(e.stdout, "revoked key %s%s (a running server stops accepting it within 5 s)\n", k.ID, nameSuffix(k.Name))
	return nil
}
