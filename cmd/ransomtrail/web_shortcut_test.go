package main

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
)

// The "/" key moves to the search box, and a user can turn that off
// (WCAG 2.1.4: a single-character shortcut must be able to be turned off):
// the box in the footer, kept across pages and reloads.
func TestWebUISlashShortcutCanBeTurnedOff(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	s := startUI(t, w.Data, "--dev")
	s.do("open home", chromedp.Navigate(s.base+"/"), chromedp.WaitVisible(chromedp.CSS("#status dl")))
	focused := `document.activeElement === document.querySelector("#q")`
	blur := chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur(); 0`)
	s.do("press /", blur, chromedp.KeyEvent("/"))
	if !eval[bool](s, focused) {
		t.Fatal(`"/" does not move to the search box`)
	}
	s.do("turn it off", blur, chromedp.Click(chromedp.CSS("#slashkey")))
	if eval[bool](s, `document.querySelector("#slashkey").checked`) {
		t.Fatal("the footer's box did not turn the shortcut off")
	}
	s.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#status dl")), blur, chromedp.KeyEvent("/"))
	if eval[bool](s, focused) || eval[bool](s, `document.querySelector("#slashkey").checked`) {
		t.Fatal(`"/" still moves to the search box after the user turned it off (and reloaded)`)
	}
	s.do("turn it on", blur, chromedp.Click(chromedp.CSS("#slashkey")), blur, chromedp.KeyEvent("/"))
	if !eval[bool](s, focused) {
		t.Fatal(`"/" does not move to the search box once turned on again`)
	}
	s.do("escape", chromedp.KeyEvent(kb.Escape))
	if errs := s.consoleErrors(); len(errs) > 0 {
		t.Errorf("browser console errors: %v", errs)
	}
}
