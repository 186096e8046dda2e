using AnnexEdge.Directories;
using AnnexEdge.Telemetry;
using Serilog.Events;

namespace AnnexEdge.Tests.Telemetry;

public sealed class StatusPageTests
{
    private const string Hostile = "<script>alert(\"x\")</script>&'";
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    private static StatusSnapshot Snapshot(string name, bool up = true, bool peers = true) => new(
        Now,
        new ConfigVersion("0123456789ab", Now.AddHours(-1), "/etc/annexedge.json"),
        [new RepositoryView(name, "uuid-" + name, 4, [new BackendView(name + ".b1", "http://" + name, up, "Healthy", "Unknown", 2, 1, new ProbeResult(TimeSpan.FromMilliseconds(3.5), Now.AddSeconds(-1), 200))])],
        [new ClusterView(name, "ac-" + name, 2, [new NodeView(name, "uuid-" + name, up, 2)])],
        [new ManagedProcessStatus("/srv/" + name, 4242, 43210, "Draining", 3)],
        [new TransferView("put", name, name, "SHA256E-s1--" + name, 12345, Now.AddSeconds(-90))],
        [new CertificateView([name], "CN=" + name, Now.AddDays(30), false)],
        new CertificateRenewalView(Now.AddMinutes(-5), false, name),
        [new Problem(Now, LogEventLevel.Error, 4002, name)],
        peers ? [new PeerView(name, "peer-" + name, 10, Advertises: true, up, 2, Now.AddSeconds(-12))] : [],
        peers
            ? [
                new RouteView("uuid-" + name, "direct", 0, 100, Now.AddMinutes(-3), null),
                new RouteView("uuid-far-" + name, name, 1, 112.5, Now.AddSeconds(-20), "peer " + name + " withdrew it"),
            ]
            : []);

    [Fact]
    public void Every_value_from_configuration_clients_or_logs_is_html_encoded()
    {
        var html = StatusPage.Render(Snapshot(Hostile), refreshSeconds: null);

        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("\"x\"", html);
        Assert.DoesNotContain("&'", html);
        Assert.Contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#x27;", html);
        // In attributes too, so a name cannot end the attribute and add one of its own.
        Assert.Contains("data-node=\"&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#x27;\"", html);
        Assert.Contains("data-peer=\"&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#x27;\"", html);
    }

    [Fact]
    public void Rows_say_up_or_down_and_the_page_shows_probe_latency_lock_slots_transfers_and_config_version()
    {
        var up = StatusPage.Render(Snapshot("node1"), refreshSeconds: null);
        var down = StatusPage.Render(Snapshot("node1", up: false), refreshSeconds: null);

        Assert.Contains("<tr data-cluster=\"node1\" data-node=\"node1\" data-state=\"up\">", up);
        Assert.Contains("<tr data-cluster=\"node1\" data-node=\"node1\" data-state=\"down\">", down);
        Assert.Contains("<tr data-repository=\"node1\" data-backend=\"node1.b1\" data-state=\"down\">", down);
        Assert.Contains("200 in 3.5 ms, 0 min 1 s ago", up);
        Assert.Contains("<td>1 / 3</td>", up);
        Assert.Contains("<td>12345</td><td>1 min 30 s</td>", up);
        Assert.Contains("0123456789ab", up);
        Assert.Contains("failed at 2026-11-30 11:55:00 UTC: node1", up);
        Assert.Contains("<td>4002</td><td>node1</td>", up);
        Assert.Contains("<tr data-directory=\"/srv/node1\" data-state=\"Draining\"><td>/srv/node1</td><td>4242</td><td>43210</td><td>Draining</td><td>3</td></tr>", up);
        Assert.DoesNotContain("http-equiv", up);
    }

    [Fact]
    public void Peers_and_the_routing_table_are_shown_with_next_hop_cost_and_why_a_route_was_withdrawn()
    {
        var html = StatusPage.Render(Snapshot("site-b"), refreshSeconds: null);
        var down = StatusPage.Render(Snapshot("site-b", up: false), refreshSeconds: null);

        Assert.Contains("<tr data-peer=\"site-b\" data-state=\"up\"><td>site-b<br><small>peer-site-b</small></td><td>10</td>", html);
        Assert.Contains("<td>2</td><td>0 min 12 s ago</td>", html);
        Assert.Contains("<tr data-peer=\"site-b\" data-state=\"down\">", down);
        Assert.Contains("<tr data-destination=\"uuid-site-b\" data-next-hop=\"direct\" data-state=\"live\"><td>uuid-site-b</td><td>direct</td><td>0</td><td>100</td><td>3 min 0 s ago</td><td></td></tr>", html);
        Assert.Contains("<tr data-destination=\"uuid-far-site-b\" data-next-hop=\"site-b\" data-state=\"withdrawn\">", html);
        Assert.Contains("<td>1</td><td>112.5</td><td>0 min 20 s ago</td><td class=\"down\">peer site-b withdrew it</td>", html);
    }

    [Fact]
    public void An_edge_without_peers_shows_no_routing_sections()
    {
        var html = StatusPage.Render(Snapshot("node1", peers: false), refreshSeconds: null);

        Assert.DoesNotContain("id=\"peers\"", html);
        Assert.DoesNotContain("id=\"routes\"", html);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData("abc", null)]
    [InlineData("0", null)]
    [InlineData("-5", null)]
    [InlineData("5", 5)]
    [InlineData("99999999", StatusPage.MaxRefreshSeconds)]
    [InlineData("99999999999999999999", null)]
    public void Refresh_is_a_positive_number_of_seconds_within_bounds(string? query, int? expected) =>
        Assert.Equal(expected, StatusPage.RefreshSeconds(query));

    [Fact]
    public void Refresh_adds_a_meta_refresh()
    {
        Assert.Contains("<meta http-equiv=\"refresh\" content=\"7\">", StatusPage.Render(Snapshot("node1"), 7));
    }
}
