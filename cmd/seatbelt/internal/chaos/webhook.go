package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// WebhookPayload is what the runner posts to RunnerConfig.WebhookURL. Text
// makes it a valid Slack (or Mattermost) incoming-webhook message.
type WebhookPayload struct {
	Text    string  `json:"text"`
	Outcome Outcome `json:"outcome"`
}

func (r *Runner) post(ctx context.Context, o Outcome) error {
	body, err := json.Marshal(WebhookPayload{Text: o.Text(), Outcome: o})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
