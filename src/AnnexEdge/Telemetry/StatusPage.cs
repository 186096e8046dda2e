using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using AnnexEdge.Directories;

namespace AnnexEdge.Telemetry;

/// <summary>What the status page shows, read from the edge's own state at one moment (<see cref="StatusSnapshots"/>).</summary>
internal sealed record StatusSnapshot(
    DateTimeOffset Now,
    ConfigVersion Config,
    IReadOnlyList<RepositoryView> Repositories,
    IReadOnlyList<ClusterView> Clusters,
    IReadOnlyList<ManagedProcessStatus> Managed,
    IReadOnlyList<TransferView> Transfers,
    IReadOnlyList<CertificateView> Certificates,
    CertificateRenewalView? Renewal,
    IReadOnlyList<Problem> Problems,
    IReadOnlyList<PeerView> Peers,
    IReadOnlyList<RouteView> Routes);

internal sealed record RepositoryView(string Name, string Uuid, int MaxLocks, IReadOnlyList<BackendView> Backends);

internal sealed record BackendView(
    string Id, string Address, bool Up, string Active, string Passive, int InFlight, int LocksUsed, ProbeResult? LastProbe);

internal sealed record ClusterView(string Name, string Uuid, int? Copies, IReadOnlyList<NodeView> Nodes);

internal sealed record NodeView(string Name, string Uuid, bool Live, int InFlight);

internal sealed record TransferView(string Kind, string Target, string? Node, string? Key, long Bytes, DateTimeOffset Started);

internal sealed record CertificateView(IReadOnlyList<string> Domains, string Subject, DateTimeOffset NotAfter, bool SelfSigned);

internal sealed record PeerView(string Name, string Uuid, double LinkCost, bool Advertises, bool Up, int FailedFetches, DateTimeOffset? LastAdvertised);

/// <summary>The best route to a destination (a node UUID): <see cref="NextHop"/> is a peer's name, or "direct".</summary>
internal sealed record RouteView(string Destination, string NextHop, int Hops, double Cost, DateTimeOffset Since, string? Withdrawn);

internal sealed record CertificateRenewalView(DateTimeOffset At, bool Succeeded, string? Problem);

/// <summary>
/// <c>/_annexedge/</c>: the edge's state as one small HTML page for a person, server-rendered, no script. Every
/// value is HTML-encoded (names, addresses and keys come from configuration and clients). Rows carry
/// <c>data-*</c> attributes with the same facts, for tests and scrapers. <c>?refresh=N</c> reloads it every N
/// seconds.
/// </summary>
internal static class StatusPage
{
    public const int MinRefreshSeconds = 1;
    public const int MaxRefreshSeconds = 3600;

    /// <summary>The refresh asked for with <c>?refresh=N</c>, bounded; null when none (or not a number).</summary>
    public static int? RefreshSeconds(string? query) =>
        int.TryParse(query, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds > 0
            ? Math.Clamp(seconds, MinRefreshSeconds, MaxRefreshSeconds)
            : null;

    public static string Render(StatusSnapshot s, int? refreshSeconds)
    {
        var html = new Html();
        html.Raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        if (refreshSeconds is { } refresh)
        {
            html.Raw($"<meta http-equiv=\"refresh\" content=\"{refresh.ToString(CultureInfo.InvariantCulture)}\">");
        }

        html.Raw("<title>AnnexEdge status</title><style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;margin-bottom:1em}"
            + "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}.up{color:#070}.down{color:#b00;font-weight:bold}</style></head><body>\n");
        html.Raw("<h1>AnnexEdge</h1>\n<p id=\"config\">Config version <code>").Text(s.Config.Version).Raw("</code> loaded ")
            .Text(Time(s.Config.LoadedAt)).Raw(" (no reload yet); page rendered ").Text(Time(s.Now)).Raw(".</p>\n");

        html.Raw("<h2>Repositories</h2>\n<table id=\"repositories\"><tr><th>Repository</th><th>Backend</th><th>Address</th><th>Health</th>"
            + "<th>Active</th><th>Passive</th><th>Last probe</th><th>In flight</th><th>Lock slots used/free</th></tr>\n");
        foreach (var repository in s.Repositories)
        {
            foreach (var backend in repository.Backends)
            {
                html.Raw("<tr data-repository=\"").Attribute(repository.Name).Raw("\" data-backend=\"").Attribute(backend.Id)
                    .Raw("\" data-state=\"").Raw(State(backend.Up)).Raw("\"><td>").Text(repository.Name).Raw("<br><small>").Text(repository.Uuid)
                    .Raw("</small></td><td>").Text(backend.Id).Raw("</td><td>").Text(backend.Address).Raw("</td>");
                Health(html, backend.Up);
                html.Raw("<td>").Text(backend.Active).Raw("</td><td>").Text(backend.Passive).Raw("</td><td>").Text(Probe(backend.LastProbe, s.Now))
                    .Raw("</td><td>").Text(Number(backend.InFlight)).Raw("</td><td>").Text(Number(backend.LocksUsed)).Raw(" / ")
                    .Text(Number(Math.Max(0, repository.MaxLocks - backend.LocksUsed))).Raw("</td></tr>\n");
            }
        }

        html.Raw("</table>\n<h2>Clusters</h2>\n<table id=\"clusters\"><tr><th>Cluster</th><th>Copies</th><th>Node</th><th>Health</th><th>In flight</th></tr>\n");
        foreach (var cluster in s.Clusters)
        {
            foreach (var node in cluster.Nodes)
            {
                html.Raw("<tr data-cluster=\"").Attribute(cluster.Name).Raw("\" data-node=\"").Attribute(node.Name).Raw("\" data-state=\"")
                    .Raw(State(node.Live)).Raw("\"><td>").Text(cluster.Name).Raw("<br><small>").Text(cluster.Uuid).Raw("</small></td><td>")
                    .Text(cluster.Copies is { } copies ? Number(copies) : "all").Raw("</td><td>").Text(node.Name).Raw("<br><small>")
                    .Text(node.Uuid).Raw("</small></td>");
                Health(html, node.Live);
                html.Raw("<td>").Text(Number(node.InFlight)).Raw("</td></tr>\n");
            }
        }

        html.Raw("</table>\n");
        if (s.Managed.Count > 0)
        {
            html.Raw("<h2>Managed p2phttp</h2>\n<table id=\"managed\"><tr><th>Directory</th><th>Pid</th><th>Port</th><th>State</th><th>Restarts</th></tr>\n");
            foreach (var process in s.Managed)
            {
                html.Raw("<tr data-directory=\"").Attribute(process.Directory).Raw("\" data-state=\"").Attribute(process.State).Raw("\"><td>")
                    .Text(process.Directory).Raw("</td><td>").Text(process.Pid is { } pid ? Number(pid) : "").Raw("</td><td>").Text(Number(process.Port))
                    .Raw("</td><td>").Text(process.State).Raw("</td><td>").Text(Number(process.Restarts)).Raw("</td></tr>\n");
            }

            html.Raw("</table>\n");
        }

        if (s.Peers.Count > 0)
        {
            Routing(html, s);
        }

        html.Raw("<h2>Transfers in flight</h2>\n<table id=\"transfers\"><tr><th>Kind</th><th>Target</th><th>Node</th><th>Key</th>"
            + "<th>Bytes so far</th><th>Running for</th></tr>\n");
        foreach (var transfer in s.Transfers)
        {
            html.Raw("<tr data-kind=\"").Attribute(transfer.Kind).Raw("\"><td>").Text(transfer.Kind).Raw("</td><td>").Text(transfer.Target)
                .Raw("</td><td>").Text(transfer.Node ?? "").Raw("</td><td>").Text(transfer.Key ?? "").Raw("</td><td>").Text(Number(transfer.Bytes))
                .Raw("</td><td>").Text(Duration(s.Now - transfer.Started)).Raw("</td></tr>\n");
        }

        html.Raw("</table>\n<h2>Certificates</h2>\n<table id=\"certificates\"><tr><th>Domains</th><th>Subject</th><th>Expires</th><th>Left</th></tr>\n");
        foreach (var certificate in s.Certificates)
        {
            html.Raw("<tr><td>").Text(string.Join(", ", certificate.Domains)).Raw("</td><td>").Text(certificate.Subject)
                .Raw(certificate.SelfSigned ? " (self-signed, until the first ACME certificate)" : "").Raw("</td><td>")
                .Text(Time(certificate.NotAfter)).Raw("</td><td>").Text(Duration(certificate.NotAfter - s.Now)).Raw("</td></tr>\n");
        }

        html.Raw("</table>\n");
        if (s.Renewal is { } renewal)
        {
            html.Raw("<p id=\"renewal\">Last certificate order or check: ").Text(renewal.Succeeded ? "succeeded" : "failed").Raw(" at ")
                .Text(Time(renewal.At)).Text(renewal.Problem is null ? "" : ": " + renewal.Problem).Raw("</p>\n");
        }

        html.Raw("<h2>Recent warnings and errors</h2>\n<table id=\"problems\"><tr><th>Time</th><th>Level</th><th>Event</th><th>Message</th></tr>\n");
        foreach (var problem in s.Problems)
        {
            html.Raw("<tr><td>").Text(Time(problem.At)).Raw("</td><td>").Text(problem.Level.ToString()).Raw("</td><td>")
                .Text(problem.EventId is { } id ? Number(id) : "").Raw("</td><td>").Text(problem.Message).Raw("</td></tr>\n");
        }

        html.Raw("</table>\n</body></html>\n");
        return html.ToString();
    }

    /// <summary>The peers and the routing table, as <c>/_annexedge/routes</c> gives them.</summary>
    private static void Routing(Html html, StatusSnapshot s)
    {
        html.Raw("<h2>Peers</h2>\n<table id=\"peers\"><tr><th>Peer</th><th>Link cost</th><th>Link</th><th>Failed fetches</th><th>Last advertised</th></tr>\n");
        foreach (var peer in s.Peers)
        {
            html.Raw("<tr data-peer=\"").Attribute(peer.Name).Raw("\" data-state=\"").Raw(State(peer.Up)).Raw("\"><td>").Text(peer.Name)
                .Raw("<br><small>").Text(peer.Uuid).Raw("</small></td><td>").Text(Cost(peer.LinkCost)).Raw("</td>");
            Health(html, peer.Up);
            html.Raw("<td>").Text(Number(peer.FailedFetches)).Raw("</td><td>")
                .Text(!peer.Advertises ? "advertises nothing (git-annex gateway)" : peer.LastAdvertised is { } at ? Duration(s.Now - at) + " ago" : "never")
                .Raw("</td></tr>\n");
        }

        html.Raw("</table>\n<h2>Routes</h2>\n<table id=\"routes\"><tr><th>Destination</th><th>Next hop</th><th>Hops</th><th>Cost</th><th>Since</th>"
            + "<th>Withdrawn</th></tr>\n");
        foreach (var route in s.Routes)
        {
            var live = route.Withdrawn is null;
            html.Raw("<tr data-destination=\"").Attribute(route.Destination).Raw("\" data-next-hop=\"").Attribute(route.NextHop)
                .Raw("\" data-state=\"").Raw(live ? "live" : "withdrawn").Raw("\"><td>").Text(route.Destination).Raw("</td><td>").Text(route.NextHop)
                .Raw("</td><td>").Text(Number(route.Hops)).Raw("</td><td>").Text(Cost(route.Cost)).Raw("</td><td>").Text(Duration(s.Now - route.Since))
                .Raw(" ago</td><td").Raw(live ? ">" : " class=\"down\">").Text(route.Withdrawn ?? "").Raw("</td></tr>\n");
        }

        html.Raw("</table>\n");
    }

    private static void Health(Html html, bool up) =>
        html.Raw("<td class=\"").Raw(State(up)).Raw("\">").Raw(State(up)).Raw("</td>");

    private static string State(bool up) => up ? "up" : "down";

    private static string Number(long n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Cost(double cost) => cost.ToString("0.##", CultureInfo.InvariantCulture);

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    private static string Duration(TimeSpan d) =>
        d < TimeSpan.Zero ? "expired"
        : d.TotalDays >= 2 ? $"{(int)d.TotalDays} days"
        : d.TotalHours >= 1 ? $"{(int)d.TotalHours} h {d.Minutes} min"
        : $"{(int)d.TotalMinutes} min {d.Seconds} s";

    private static string Probe(ProbeResult? probe, DateTimeOffset now) => probe switch
    {
        null => "none yet",
        { Status: null } p => $"no answer after {p.Latency.TotalMilliseconds:0} ms, {Duration(now - p.At)} ago",
        { } p => $"{p.Status} in {p.Latency.TotalMilliseconds:0.0} ms, {Duration(now - p.At)} ago",
    };

    /// <summary>Markup written as is, and text always encoded: one encoder for element text and attribute values.</summary>
    private sealed class Html
    {
        private readonly StringBuilder _builder = new();

        public Html Raw(string markup)
        {
            _builder.Append(markup);
            return this;
        }

        public Html Text(string text)
        {
            _builder.Append(HtmlEncoder.Default.Encode(text));
            return this;
        }

        public Html Attribute(string value) => Text(value);

        public override string ToString() => _builder.ToString();
    }
}
