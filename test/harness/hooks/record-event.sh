# Sourced by the client hooks: appends one JSON line to $LT_EVENTS holding
# the event name and every variable the DHCP client exported. busybox awk is
# used on purpose: mawk mishandles "\\\\" in gsub replacements.
record_event() {
  env | busybox awk -v event="$1" '
    function esc(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/\t/, "\\t", s); gsub(/\r/, "\\r", s); return s }
    BEGIN { line = "{\"event\":\"" esc(event) "\"" }
    {
      i = index($0, "=")
      if (i == 0) next
      key = substr($0, 1, i - 1)
      # The harness'"'"'s own settings and the shell'"'"'s bookkeeping are not lease data.
      if (key ~ /^(LT_.*|PATH|PWD|OLDPWD|SHLVL|HOME|_)$/) next
      line = line ",\"" esc(key) "\":\"" esc(substr($0, i + 1)) "\""
    }
    END { print line "}" }' >> "$LT_EVENTS"
}
