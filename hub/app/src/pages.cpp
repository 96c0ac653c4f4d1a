#include "hub/app/pages.hpp"

#include "hub/core/version.hpp"

namespace hub::app {

std::string landing_page_html() {
  return std::string(R"html(<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GX-ETS 連携ハブ / Integration Hub</title>
<style>
  :root { --ink:#1b2a3a; --muted:#5b6b7c; --line:#d9e1ea; --accent:#0b6e4f; --bg:#f5f7fa; }
  * { box-sizing: border-box; }
  body { margin:0; font-family: "Noto Sans JP", "Hiragino Sans", system-ui, sans-serif; color:var(--ink); background:var(--bg); }
  header { background:#fff; border-bottom:1px solid var(--line); padding:14px 32px; display:flex; align-items:center; gap:14px; }
  .mark { width:34px; height:34px; border-radius:8px; background:var(--accent); color:#fff; display:grid; place-items:center; font-weight:700; }
  header h1 { font-size:18px; margin:0; }
  header small { color:var(--muted); }
  main { max-width:960px; margin:32px auto; padding:0 24px; }
  .card { background:#fff; border:1px solid var(--line); border-radius:10px; padding:20px 24px; margin-bottom:18px; }
  h2 { font-size:16px; margin:0 0 12px; }
  table { width:100%; border-collapse:collapse; font-size:14px; }
  td, th { text-align:left; padding:8px 6px; border-bottom:1px solid var(--line); }
  .ok { color:var(--accent); font-weight:600; }
  .bad { color:#b42318; font-weight:600; }
  code { background:#eef2f6; padding:1px 5px; border-radius:4px; }
  footer { color:var(--muted); font-size:12px; text-align:center; margin:30px 0; }
</style>
</head>
<body>
<header><div class="mark">GX</div><div><h1>GX-ETS 連携ハブ <small>Integration Hub</small></h1>
<small>排出量取引制度 登録簿・外部連携 / Allowance registry and external links</small></div></header>
<main>
  <div class="card">
    <h2>稼働状況 / Service status</h2>
    <table id="checks"><tr><td>確認中… / checking…</td></tr></table>
  </div>
  <div class="card">
    <h2>エンドポイント / Endpoints</h2>
    <table>
      <tr><th>/healthz</th><td>プロセスの生存確認 / process liveness</td></tr>
      <tr><th>/readyz</th><td>PostgreSQL・RabbitMQ への接続確認 / dependencies reachable</td></tr>
      <tr><th>/metrics</th><td>Prometheus 形式のメトリクス / metrics (Prometheus text format)</td></tr>
    </table>
    <p>運用コンソールと企業ポータルは順次提供されます。The operator console and the company portal are being added to this address.</p>
  </div>
</main>
<footer>GX-ETS Integration Hub )html") +
         kVersion + R"html(</footer>
<script>
fetch('/readyz').then(r => r.json()).then(j => {
  const t = document.getElementById('checks');
  t.innerHTML = '';
  for (const [name, c] of Object.entries(j.checks || {})) {
    const tr = document.createElement('tr');
    const a = document.createElement('th'); a.textContent = name;
    const b = document.createElement('td'); b.className = c.ok ? 'ok' : 'bad';
    b.textContent = c.ok ? ('正常 / OK (' + c.ms.toFixed(1) + ' ms)') : ('異常 / DOWN: ' + (c.error || ''));
    tr.append(a, b); t.append(tr);
  }
}).catch(() => { document.getElementById('checks').innerHTML = '<tr><td class="bad">応答なし / no answer</td></tr>'; });
</script>
</body>
</html>
)html";
}

}  // namespace hub::app
