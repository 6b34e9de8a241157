/* global document, window, fetch, Chart, URLSearchParams */
// The dashboard page: fetches the JSON API and renders tables (the accessible, exact figures)
// and Chart.js charts (the picture). Data only ever reaches the DOM through textContent.
'use strict';

const charts = new Map();
const currencyColours = { GBP: '#0b5cad', USD: '#1a7f37', EUR: '#b35900' };
const spareColours = ['#6f42c1', '#a4161a', '#0a7a8a', '#57606a'];

function colourFor(currency, index) {
  return currencyColours[currency] || spareColours[index % spareColours.length];
}

/** Groups the integer digits of an exact decimal string without going through a float. */
function formatDecimal(text) {
  if (text === null || text === undefined) return '–';
  const [whole, fraction] = String(text).split('.');
  const negative = whole.startsWith('-');
  const digits = negative ? whole.slice(1) : whole;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}${grouped}${fraction === undefined ? '' : `.${fraction}`}`;
}

function formatInt(value) {
  return value === null || value === undefined ? '–' : Number(value).toLocaleString('en-GB');
}

function formatAge(seconds) {
  if (seconds === null || seconds === undefined) return 'never';
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

function element(tag, attributes = {}, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value === true ? '' : String(value));
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * A data table. columns: [{ label, value(row), numeric? }]; rowClass(row) may mark a row;
 * footer: cells for a totals row. The first column is a row header for screen readers.
 */
function renderTable(container, { id, caption, columns, rows, footer, rowClass, empty = 'Nothing to show.' }) {
  container.replaceChildren();
  if (rows.length === 0) {
    container.append(element('p', {}, empty));
    return;
  }
  const table = element('table', { id });
  table.append(element('caption', {}, caption));
  const head = element('thead');
  const headRow = element('tr');
  for (const column of columns) headRow.append(element('th', { scope: 'col', class: column.numeric ? 'num' : undefined }, column.label));
  head.append(headRow);
  table.append(head);
  const body = element('tbody');
  for (const row of rows) {
    const tr = element('tr', { class: rowClass ? rowClass(row) : undefined });
    columns.forEach((column, index) => {
      tr.append(element(index === 0 ? 'th' : 'td', { scope: index === 0 ? 'row' : undefined, class: column.numeric ? 'num' : undefined }, column.value(row)));
    });
    body.append(tr);
  }
  table.append(body);
  if (footer) {
    const foot = element('tfoot');
    for (const cells of footer) {
      const tr = element('tr');
      cells.forEach((cell, index) => tr.append(element(index === 0 ? 'th' : 'td', { scope: index === 0 ? 'row' : undefined, class: columns[index] && columns[index].numeric ? 'num' : undefined }, cell)));
      foot.append(tr);
    }
    table.append(foot);
  }
  container.append(table);
}

function drawChart(canvasId, config, description) {
  const canvas = document.getElementById(canvasId);
  canvas.setAttribute('aria-label', description);
  if (charts.has(canvasId)) charts.get(canvasId).destroy();
  if (typeof Chart === 'undefined') return;
  charts.set(canvasId, new Chart(canvas, { ...config, options: { responsive: true, maintainAspectRatio: false, animation: false, ...config.options } }));
}

async function getJson(path) {
  const response = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `${path}: HTTP ${response.status}`);
  return body;
}

function showError(container, error) {
  container.replaceChildren(element('p', { class: 'error', role: 'alert' }, `Could not load: ${error.message}`));
}

// ---- pipeline health ----

function renderHealth(health) {
  const awsStatus = document.getElementById('aws-status');
  const aws = health.aws;
  if (!aws.available) {
    awsStatus.className = 'notice bad';
    awsStatus.textContent = `Pipeline state unavailable (watermarks, queues, errors): ${aws.reason}`;
    for (const id of ['last-extract', 'queues', 'watermarks', 'recent-errors']) {
      document.getElementById(id).replaceChildren(element('p', {}, 'Unavailable: AWS (or the local emulator) did not answer.'));
    }
  } else {
    const status = aws.status;
    const problems = status.problems;
    awsStatus.className = problems.length > 0 ? 'notice bad' : 'notice ok';
    awsStatus.textContent = problems.length > 0 ? `Needs attention (stage ${status.stage}): ${problems.join('; ')}.` : `Stage ${status.stage}: all clear, nothing stuck.`;
    renderLastRun(status.lastRun);
    renderQueues(status.queues);
    renderWatermarks(status.watermarks, status.lastRun);
    renderErrors(aws.recentErrors, aws.notes);
  }
  const loads = document.getElementById('loads');
  if (!health.loads.available) {
    showError(loads, new Error(health.loads.reason));
  } else {
    renderTable(loads, {
      id: 'loads-table',
      caption: `Objects and rows loaded; "recent" is the last ${health.loads.recentHours} h`,
      columns: [
        { label: 'Table', value: (row) => row.table },
        { label: 'Objects', value: (row) => formatInt(row.objects), numeric: true },
        { label: 'Rows applied', value: (row) => formatInt(row.rowsApplied), numeric: true },
        { label: 'Rows applied recently', value: (row) => formatInt(row.recentRowsApplied), numeric: true },
        { label: 'Last load', value: (row) => row.lastLoadedAt || 'never' },
        { label: 'Redelivered objects', value: (row) => formatInt(row.redelivered), numeric: true },
      ],
      rows: health.loads.tables,
      empty: 'Nothing loaded yet.',
    });
  }
}

function renderLastRun(lastRun) {
  const container = document.getElementById('last-extract');
  if (!lastRun) {
    container.replaceChildren(element('p', {}, 'No extract has run yet.'));
    return;
  }
  const failed = lastRun.tables.filter((table) => table.status === 'failed');
  const extracted = lastRun.tables.filter((table) => table.status === 'extracted');
  const list = element('dl', { class: 'summary' });
  const add = (term, value, cls) => {
    const wrapper = element('div');
    wrapper.append(element('dt', {}, term));
    const dd = element('dd');
    dd.append(cls ? element('span', { class: `badge ${cls}` }, value) : document.createTextNode(value));
    wrapper.append(dd);
    list.append(wrapper);
  };
  add('Result', lastRun.ok ? 'succeeded' : 'failed', lastRun.ok ? 'ok' : 'bad');
  add('Finished', `${lastRun.finishedAt} (${formatAge(Math.max(0, Math.round((Date.now() - Date.parse(lastRun.finishedAt)) / 1000)))})`);
  add('Tables with new rows', `${extracted.length} of ${lastRun.tables.length}`);
  add('Rows extracted', formatInt(lastRun.tables.reduce((sum, table) => sum + table.rows, 0)));
  container.replaceChildren(list);
  if (failed.length > 0) container.append(element('p', { class: 'error' }, `Failed: ${failed.map((table) => `${table.table} (${table.error || 'no reason recorded'})`).join('; ')}`));
}

function renderQueues(queues) {
  const depth = (row) => row.visible + row.inFlight + row.delayed;
  const stuck = (row) => row.role === 'dlq' && depth(row) > 0;
  renderTable(document.getElementById('queues'), {
    id: 'queues-table',
    caption: 'Messages per queue; anything in a dead-letter queue is stuck until an operator acts',
    columns: [
      { label: 'Queue', value: (row) => row.queue },
      { label: 'Kind', value: (row) => (row.role === 'dlq' ? `dead letters of ${row.consumer}` : `${row.consumer} input`) },
      { label: 'Waiting', value: (row) => formatInt(row.visible + row.delayed), numeric: true },
      { label: 'In flight', value: (row) => formatInt(row.inFlight), numeric: true },
      { label: 'State', value: (row) => (stuck(row) ? 'STUCK' : depth(row) > 0 ? 'working' : 'empty') },
    ],
    rows: queues,
    rowClass: (row) => (stuck(row) ? 'stuck' : undefined),
  });
}

function renderWatermarks(watermarks, lastRun) {
  const runStatus = new Map(((lastRun && lastRun.tables) || []).map((table) => [table.table, table.status]));
  renderTable(document.getElementById('watermarks'), {
    id: 'watermarks-table',
    caption: 'Highest last_updated extracted per source table; its age is how far the warehouse may lag the source',
    columns: [
      { label: 'Source table', value: (row) => row.table },
      { label: 'Watermark', value: (row) => row.watermark || 'never extracted' },
      { label: 'Freshness', value: (row) => (row.ageSeconds === null ? '–' : formatAge(row.ageSeconds)) },
      { label: 'Last moved', value: (row) => row.updatedAt || 'never' },
      { label: 'Last extract', value: (row) => runStatus.get(row.table) || '–' },
    ],
    rows: watermarks,
    rowClass: (row) => (runStatus.get(row.table) === 'failed' ? 'stuck' : row.watermark === null ? 'stale' : undefined),
    empty: 'No watermarks yet: the extract has not run.',
  });
}

function renderErrors(errors, notes) {
  const container = document.getElementById('recent-errors');
  renderTable(container, {
    id: 'errors-table',
    caption: 'Newest first: extract failures, and the last failed attempt of each object (kept after a retry succeeds, until it expires)',
    columns: [
      { label: 'When', value: (row) => row.at },
      { label: 'Stage', value: (row) => row.stage },
      { label: 'Object or table', value: (row) => row.subject },
      { label: 'Attempts', value: (row) => (row.receiveCount === undefined ? '–' : formatInt(row.receiveCount)), numeric: true },
      { label: 'Error', value: (row) => row.error },
      { label: 'Now', value: (row) => (row.loadedSince ? 'loaded since' : 'not loaded') },
    ],
    rows: errors,
    rowClass: (row) => (row.loadedSince ? 'resolved' : 'stuck'),
    empty: 'No recent errors.',
  });
  for (const note of notes) container.append(element('p', { class: 'hint' }, note));
}

// ---- business view ----

function renderSummary(summary) {
  const list = document.getElementById('summary');
  list.replaceChildren();
  for (const [term, value] of [['Sales orders', formatInt(summary.orders)], ['Order versions held', formatInt(summary.versions)], ['Units sold', formatInt(summary.units)], ['Currencies', summary.currencies.join(', ') || '–']]) {
    const wrapper = element('div');
    wrapper.append(element('dt', {}, term), element('dd', {}, value));
    list.append(wrapper);
  }
  const select = document.getElementById('staff-currency');
  const chosen = select.value;
  select.replaceChildren(...summary.currencies.map((code) => element('option', { value: code }, code)));
  if (summary.currencies.includes(chosen)) select.value = chosen;
  else if (summary.currencies.includes('GBP')) select.value = 'GBP';
}

function renderRevenue(revenue) {
  const months = [...new Set(revenue.months.map((row) => row.month))];
  const currencies = revenue.totals.map((row) => row.currency);
  const byKey = new Map(revenue.months.map((row) => [`${row.month}|${row.currency}`, row]));
  drawChart('revenue-chart', {
    type: 'bar',
    data: {
      labels: months,
      datasets: currencies.map((currency, index) => ({
        label: currency,
        backgroundColor: colourFor(currency, index),
        data: months.map((month) => Number((byKey.get(`${month}|${currency}`) || { revenue: 0 }).revenue)),
      })),
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: 'Revenue' } } } },
  }, `Revenue by month, ${months.length} months. Totals: ${revenue.totals.map((row) => `${row.currency} ${formatDecimal(row.revenue)}`).join(', ')}.`);
  renderTable(document.getElementById('revenue-table'), {
    id: 'revenue-by-month-table',
    caption: 'Revenue per month and currency',
    columns: [
      { label: 'Month', value: (row) => row.month },
      { label: 'Currency', value: (row) => row.currency },
      { label: 'Orders', value: (row) => formatInt(row.orders), numeric: true },
      { label: 'Units', value: (row) => formatInt(row.units), numeric: true },
      { label: 'Revenue', value: (row) => formatDecimal(row.revenue), numeric: true },
    ],
    rows: revenue.months,
    footer: revenue.totals.map((row) => ['All months', row.currency, formatInt(row.orders), formatInt(row.units), formatDecimal(row.revenue)]),
  });
  renderTable(document.getElementById('revenue-totals'), {
    id: 'revenue-totals-table',
    caption: 'Total revenue per currency, all months',
    columns: [
      { label: 'Currency', value: (row) => row.currency },
      { label: 'Orders', value: (row) => formatInt(row.orders), numeric: true },
      { label: 'Units', value: (row) => formatInt(row.units), numeric: true },
      { label: 'Revenue', value: (row) => formatDecimal(row.revenue), numeric: true },
    ],
    rows: revenue.totals,
    empty: 'No sales yet.',
  });
}

function horizontalBars(canvasId, labels, values, label, description) {
  drawChart(canvasId, {
    type: 'bar',
    data: { labels, datasets: [{ label, data: values, backgroundColor: '#0b5cad' }] },
    options: { indexAxis: 'y', plugins: { legend: { display: false } } },
  }, description);
}

function renderDesigns(designs) {
  const name = (row) => row.designName || `design ${row.designId}`;
  horizontalBars('designs-chart', designs.map(name), designs.map((row) => row.units), 'Units sold',
    `Top designs by units sold: ${designs.slice(0, 3).map((row) => `${name(row)} ${formatInt(row.units)}`).join(', ')}${designs.length > 3 ? ', …' : ''}`);
  renderTable(document.getElementById('designs-table'), {
    id: 'designs-data',
    caption: 'Top 10 designs by units sold',
    columns: [
      { label: 'Design', value: name },
      { label: 'Design id', value: (row) => String(row.designId), numeric: true },
      { label: 'Orders', value: (row) => formatInt(row.orders), numeric: true },
      { label: 'Units sold', value: (row) => formatInt(row.units), numeric: true },
    ],
    rows: designs,
  });
}

function renderLocations(byCountry, byCity) {
  const unknown = (text) => text || '(unknown location)';
  horizontalBars('country-chart', byCountry.slice(0, 10).map((row) => unknown(row.country)), byCountry.slice(0, 10).map((row) => row.units), 'Units sold',
    `Units sold by delivery country, top 10 of ${byCountry.length}`);
  horizontalBars('city-chart', byCity.slice(0, 10).map((row) => `${unknown(row.city)}, ${unknown(row.country)}`), byCity.slice(0, 10).map((row) => row.units), 'Units sold',
    `Units sold by delivery city, top 10 of ${byCity.length}`);
  const total = (rows) => [formatInt(rows.reduce((sum, row) => sum + row.orders, 0)), formatInt(rows.reduce((sum, row) => sum + row.units, 0))];
  renderTable(document.getElementById('country-table'), {
    id: 'country-data',
    caption: 'Orders and units by delivery country',
    columns: [
      { label: 'Country', value: (row) => unknown(row.country) },
      { label: 'Orders', value: (row) => formatInt(row.orders), numeric: true },
      { label: 'Units sold', value: (row) => formatInt(row.units), numeric: true },
    ],
    rows: byCountry,
    footer: [['All countries', ...total(byCountry)]],
  });
  renderTable(document.getElementById('city-table'), {
    id: 'city-data',
    caption: 'Orders and units by delivery city',
    columns: [
      { label: 'City', value: (row) => unknown(row.city) },
      { label: 'Country', value: (row) => unknown(row.country) },
      { label: 'Orders', value: (row) => formatInt(row.orders), numeric: true },
      { label: 'Units sold', value: (row) => formatInt(row.units), numeric: true },
    ],
    rows: byCity,
    footer: [['All cities', '', ...total(byCity)]],
  });
}

async function loadStaff() {
  const currency = document.getElementById('staff-currency').value;
  const container = document.getElementById('staff-table');
  if (!currency) {
    container.replaceChildren(element('p', {}, 'No sales yet.'));
    return;
  }
  try {
    const staff = await getJson(`/api/top-staff?${new URLSearchParams({ currency })}`);
    const name = (row) => row.name || `staff ${row.staffId}`;
    horizontalBars('staff-chart', staff.map(name), staff.map((row) => Number(row.revenue)), `Revenue (${currency})`,
      `Top staff by revenue in ${currency}: ${staff.slice(0, 3).map((row) => `${name(row)} ${formatDecimal(row.revenue)}`).join(', ')}`);
    renderTable(container, {
      id: 'staff-data',
      caption: `Top 10 staff by revenue in ${currency}`,
      columns: [
        { label: 'Staff', value: name },
        { label: 'Department', value: (row) => row.department || '–' },
        { label: 'Orders', value: (row) => formatInt(row.orders), numeric: true },
        { label: `Revenue (${currency})`, value: (row) => formatDecimal(row.revenue), numeric: true },
      ],
      rows: staff,
    });
  } catch (error) {
    showError(container, error);
  }
}

async function loadOrder(event) {
  if (event) event.preventDefault();
  const input = document.getElementById('order-id');
  const container = document.getElementById('order-result');
  const raw = input.value.trim();
  if (!/^\d+$/.test(raw)) {
    input.setAttribute('aria-invalid', 'true');
    container.replaceChildren(element('p', { class: 'error', role: 'alert' }, 'Enter a sales order id: a whole number such as 2.'));
    return;
  }
  input.removeAttribute('aria-invalid');
  try {
    const versions = await getJson(`/api/order-history?${new URLSearchParams({ id: raw })}`);
    renderTable(container, {
      id: 'order-history-table',
      caption: `Sales order ${raw}: ${versions.length} version${versions.length === 1 ? '' : 's'}`,
      columns: [
        { label: 'Last updated', value: (row) => row.lastUpdated },
        { label: 'Units sold', value: (row) => formatInt(row.unitsSold), numeric: true },
        { label: 'Unit price', value: (row) => `${formatDecimal(row.unitPrice)} ${row.currency || ''}`.trim(), numeric: true },
        { label: 'Design', value: (row) => row.design || '–' },
        { label: 'Staff', value: (row) => row.staff || '–' },
        { label: 'Counterparty', value: (row) => row.counterparty || '–' },
        { label: 'Agreed delivery', value: (row) => `${row.agreedDeliveryDate}, ${row.deliveryCity || '?'} (${row.deliveryCountry || '?'})` },
        { label: 'Agreed payment', value: (row) => row.agreedPaymentDate },
      ],
      rows: versions,
      empty: `The warehouse holds no sales order ${raw}.`,
    });
  } catch (error) {
    showError(container, error);
  }
}

async function refresh() {
  const updated = document.getElementById('updated');
  updated.textContent = 'Refreshing…';
  const tasks = [
    getJson('/api/health').then(renderHealth, (error) => showError(document.getElementById('aws-status'), error)),
    getJson('/api/summary').then(async (summary) => {
      renderSummary(summary);
      await loadStaff();
    }, (error) => showError(document.getElementById('summary'), error)),
    getJson('/api/revenue-by-month').then(renderRevenue, (error) => showError(document.getElementById('revenue-table'), error)),
    getJson('/api/top-designs').then(renderDesigns, (error) => showError(document.getElementById('designs-table'), error)),
    Promise.all([getJson('/api/sales-by-location?by=country'), getJson('/api/sales-by-location?by=city')])
      .then(([countries, cities]) => renderLocations(countries, cities), (error) => showError(document.getElementById('country-table'), error)),
  ];
  await Promise.all(tasks);
  updated.textContent = `Updated ${new Date().toLocaleString('en-GB')}`;
  document.body.dataset.ready = 'true';
}

document.getElementById('refresh').addEventListener('click', () => void refresh());
document.getElementById('staff-currency').addEventListener('change', () => void loadStaff());
document.getElementById('order-form').addEventListener('submit', (event) => void loadOrder(event));
void refresh();
window.setInterval(() => void refresh(), 60_000);
