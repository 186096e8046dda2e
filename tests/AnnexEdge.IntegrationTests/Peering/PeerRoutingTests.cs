using System.Net;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Faults;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;
using AnnexEdge.Peering;
using AnnexEdge.Security;

namespace AnnexEdge.IntegrationTests.Peering;

/// <summary>
/// Edges on loopback as sites that peer with each other (AnnexEdge:Peers), each with a real p2phttp node of one
/// cluster: a node of another site is reached by its UUID through the peer, the routing table shows it, a dead node's
/// route is withdrawn within a refresh, and a request that could loop between gateways does not.
/// </summary>
public sealed class PeerRoutingTests
{
    private const string ClusterUuid = "ac1f5c3e-2b44-8d01-9a7e-0c3b5d6e7f80";
    private const string UuidA = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    private const string UuidB = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
    private const string UuidC = "cccccccc-cccc-4ccc-8ccc-cccccccccccc";
    private const string PeerPassword = "peer-secret-1";

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>A site's edge config: its node as the cluster's local node, short refreshes, and its peers.</summary>
    private static JsonObject Site(string uuid, P2pNode node, params JsonObject[] peers)
    {
        var config = EdgeHost.ConfigFor(node);
        config["Uuid"] = uuid;
        config["Clusters"] = new JsonArray(new JsonObject { ["Name"] = "multi", ["Uuid"] = ClusterUuid, ["Nodes"] = new JsonArray(node.Name) });
        config["Peers"] = new JsonArray(peers);
        config["Routing"] = new JsonObject { ["RefreshInterval"] = "00:00:00.300", ["MaxRouteAge"] = "00:00:10", ["LinkFailures"] = 2, ["MaxHops"] = 4 };
        return config;
    }

    private static JsonObject Peer(string name, string uuid, int port, double linkCost, params string[] nodes)
    {
        var peer = new JsonObject
        {
            ["Name"] = name, ["Uuid"] = uuid, ["Backends"] = new JsonArray($"http://127.0.0.1:{port}"),
            ["LinkCost"] = linkCost, ["Clusters"] = new JsonArray("multi"),
        };
        if (nodes.Length > 0)
        {
            peer["Nodes"] = new JsonArray(nodes.Select(n => (JsonNode)JsonValue.Create(n)!).ToArray());
        }

        return peer;
    }

    private static int RequestsFor(EdgeHost edge, string uuid) =>
        edge.Events.All.Count(e => e.IsRequest() && (e.Text("RequestPath")?.Contains(uuid, StringComparison.Ordinal) ?? false));

    [Fact]
    public async Task A_node_of_another_site_is_reached_by_its_uuid_through_the_peer_with_the_peers_credentials_and_withdrawn_when_it_dies()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var nodeA = await P2pNode.StartAsync("sitea");
        await using var nodeB = await P2pNode.StartAsync("siteb");
        var (portA, portB) = (FreePort.Next(), FreePort.Next());

        // B lets only its peer A's user see its routes and use its cluster (full access, as the routes endpoint needs).
        var b = Site(UuidB, nodeB, Peer("a", UuidA, portA, 10));
        b["Users"] = new JsonArray(new JsonObject
        {
            ["Name"] = "edge-a",
            ["PasswordHash"] = PasswordHash.Create(PeerPassword, PasswordHash.MinimumIterations),
            ["Access"] = new JsonObject { ["multi"] = "full" },
        });
        b["AllowBasicAuthOverHttp"] = true;
        var peerB = Peer("b", UuidB, portB, 10);
        peerB["BackendUser"] = "edge-a";
        peerB["BackendPassword"] = PeerPassword;
        await using var edgeB = await EdgeHost.StartAsync(b, $"http://127.0.0.1:{portB}");
        await using var edgeA = await EdgeHost.StartAsync(Site(UuidA, nodeA, peerB), $"http://127.0.0.1:{portA}");

        // Nobody else learns B's routes: not without credentials, not for a peer B does not know.
        using (var anonymous = await P2pHttp.Http.GetAsync($"{edgeB.Url}/_annexedge/peer/routes?peer={UuidA}", ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        using (var stranger = await P2pHttp.Http.GetAsync($"{edgeB.Url}/_annexedge/peer/routes?peer={UuidC}", ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, stranger.StatusCode);
        }

        // A's table: B's node one hop away at B's node cost plus the link cost; A's own node direct.
        await Eventually.Async(async () => await edgeA.RouteAsync(nodeB.Uuid) is { } r && (string?)r["nextHop"] == "b", Deadline,
            "A routes to B's node through b", () => edgeA.Logs);
        var route = (await edgeA.RouteAsync(nodeB.Uuid))!;
        Assert.Equal((1, 110.0, UuidB, null), ((int)route["hops"]!, (double)route["cost"]!, (string?)route["nextHopUuid"], (string?)route["withdrawn"]));
        var own = (await edgeA.RouteAsync(nodeA.Uuid))!;
        Assert.Equal(("direct", 0, 100.0), ((string?)own["nextHop"], (int)own["hops"]!, (double)own["cost"]!));
        await edgeA.EventAsync(EdgeEventIds.RouteAdded, e => e.Text("Destination") == nodeB.Uuid && e.Text("Via") == "b");

        // put, checkpresent and get of B's node through A, byte-exact.
        var api = P2pHttp.Api(edgeA.Url, nodeB.Uuid);
        var (data, key) = await P2pHttp.PutRandomObjectAsync(api, 300_000);
        Assert.True(await nodeB.HasKeyAsync(key), "B's node holds what was put through A");
        Assert.True(await P2pHttp.IsPresentAsync(api, key));
        Assert.Equal(data, await P2pHttp.GetContentAsync(P2pHttp.Url(api, "key/" + key), ct));
        // A client reaches B's node by its UUID only: the internal path a request through a peer once took is no way in.
        var (direct, _) = await P2pHttp.PostAsync($"{edgeA.Url}/_annexedge/via/b/{nodeB.Uuid}/v4/checkpresent?key={key}&clientuuid={P2pHttp.ClientUuid}", cancellationToken: ct);
        Assert.Equal(404, direct);
        // B served them as requests to its node, from A (with A's credentials: B has no anonymous access at all).
        await edgeB.RequestEventAsync("GET", "/key/" + key, 200);
        Assert.Contains(edgeB.Events.All, e => e.IsRequest("POST", "/put", 200) && e.Text("User") == "edge-a");

        // B's node dies: B's health checks take it out, B stops advertising it, A withdraws it within a refresh.
        nodeB.KillServer(0);
        await Eventually.Async(async () => await edgeA.RouteAsync(nodeB.Uuid) is { } r && r["withdrawn"] is not null, Deadline,
            "A withdraws the route to B's dead node", () => edgeA.Logs + "\n--- B\n" + edgeB.Logs);
        Assert.Equal("no longer advertised by b", (string?)(await edgeA.RouteAsync(nodeB.Uuid))!["withdrawn"]);
        // The status page shows the same table, and the peer.
        var page = await P2pHttp.Http.GetStringAsync(edgeA.Url + "/_annexedge/", ct);
        Assert.Contains($"<tr data-destination=\"{nodeB.Uuid}\" data-next-hop=\"b\" data-state=\"withdrawn\">", page);
        Assert.Contains($"<tr data-destination=\"{nodeA.Uuid}\" data-next-hop=\"direct\" data-state=\"live\">", page);
        Assert.Contains("<tr data-peer=\"b\" data-state=\"up\">", page);
        await edgeA.EventAsync(EdgeEventIds.RouteWithdrawn, e => e.Text("Destination") == nodeB.Uuid);
        var (status, _) = await P2pHttp.PostAsync(P2pHttp.Url(api, "checkpresent", key), cancellationToken: ct);
        Assert.Equal(404, status);
    }

    [Fact]
    public async Task A_cluster_read_at_one_site_uses_another_sites_node_only_when_no_cheaper_node_has_the_key()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var nodeA = await P2pNode.StartAsync("reada");
        await using var nodeB = await P2pNode.StartAsync("readb");
        var (portA, portB) = (FreePort.Next(), FreePort.Next());
        await using var edgeB = await EdgeHost.StartAsync(Site(UuidB, nodeB, Peer("a", UuidA, portA, 10)), $"http://127.0.0.1:{portB}");
        await using var edgeA = await EdgeHost.StartAsync(Site(UuidA, nodeA, Peer("b", UuidB, portB, 10)), $"http://127.0.0.1:{portA}");
        var (here, hereKey) = await P2pHttp.PutRandomObjectAsync(P2pHttp.Api(nodeA.Url, nodeA.Uuid), 200_000);
        var (there, thereKey) = await P2pHttp.PutRandomObjectAsync(P2pHttp.Api(nodeB.Url, nodeB.Uuid), 200_000);
        await Eventually.Async(async () => await edgeA.RouteAsync(nodeB.Uuid) is { } r && r["withdrawn"] is null, Deadline, "A routes to B's node", () => edgeA.Logs);
        var cluster = P2pHttp.Api(edgeA.Url, ClusterUuid);

        // Only B's node has it: the cluster at A finds it there and serves it, byte-exact.
        Assert.True(await P2pHttp.IsPresentAsync(cluster, thereKey), edgeA.Logs);
        Assert.Equal(there, await P2pHttp.GetContentAsync(P2pHttp.Url(cluster, "key/" + thereKey), ct));
        await edgeB.RequestEventAsync("GET", "/key/" + thereKey, 200);

        // A's own node has it and is cheaper (100 against 110): B is not asked for the content.
        Assert.Equal(here, await P2pHttp.GetContentAsync(P2pHttp.Url(cluster, "key/" + hereKey), ct));
        await edgeA.RequestEventAsync("GET", "/key/" + hereKey, 200);
        Assert.DoesNotContain(edgeB.Events.All, e => e.IsRequest("GET", "/key/" + hereKey));

        // Nobody has it: not present, and no site loops asking the other.
        Assert.False(await P2pHttp.IsPresentAsync(cluster, P2pHttp.RandomObject(10).Key));
    }

    [Fact]
    public async Task A_cluster_read_asks_other_sites_which_have_the_key_at_once_and_reads_only_from_one_that_has_it()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var nodeA = await P2pNode.StartAsync("aska");
        await using var nodeB = await P2pNode.StartAsync("askb");
        await using var nodeC = await P2pNode.StartAsync("askc");
        var (portA, portB, portC) = (FreePort.Next(), FreePort.Next(), FreePort.Next());
        await using var edgeB = await EdgeHost.StartAsync(Site(UuidB, nodeB, Peer("a", UuidA, portA, 10)), $"http://127.0.0.1:{portB}");
        await using var edgeC = await EdgeHost.StartAsync(Site(UuidC, nodeC, Peer("a", UuidA, portA, 10)), $"http://127.0.0.1:{portC}");
        await using var edgeA = await EdgeHost.StartAsync(Site(UuidA, nodeA, Peer("b", UuidB, portB, 10), Peer("c", UuidC, portC, 20)), $"http://127.0.0.1:{portA}");
        await Eventually.Async(async () => await edgeA.RouteAsync(nodeC.Uuid) is { } r && r["withdrawn"] is null, Deadline, "A routes to C's node", () => edgeA.Logs);
        await Eventually.Async(async () => await edgeA.RouteAsync(nodeB.Uuid) is { } r && r["withdrawn"] is null, Deadline, "A routes to B's node", () => edgeA.Logs);

        // Only C, the dearer site, has it; the key names its size, so A's own node is simply asked for it.
        var (data, key) = await P2pHttp.PutRandomObjectAsync(P2pHttp.Api(nodeC.Url, nodeC.Uuid), 4096);
        Assert.Equal(data, await P2pHttp.GetContentAsync(P2pHttp.Url(P2pHttp.Api(edgeA.Url, ClusterUuid), "key/" + key), ct));

        // B, the cheaper site, was asked whether it has it, not for the content; C was read.
        await edgeC.RequestEventAsync("GET", "/key/" + key, 200);
        await edgeB.Events.FirstAsync(e => e.IsRequest("POST", "/checkpresent") && e.Text(RequestLogProperties.Key) == key, null, "B asked checkpresent");
        Assert.DoesNotContain(edgeB.Events.All, e => e.IsRequest("GET", "/key/" + key));
    }

    [Fact]
    public async Task A_reloaded_link_cost_moves_a_cluster_read_to_the_site_that_is_now_cheaper_and_a_removed_peer_is_withdrawn()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var nodeA = await P2pNode.StartAsync("costa");
        await using var nodeB = await P2pNode.StartAsync("costb");
        await using var nodeC = await P2pNode.StartAsync("costc");
        var (portA, portB, portC) = (FreePort.Next(), FreePort.Next(), FreePort.Next());
        await using var edgeB = await EdgeHost.StartAsync(Site(UuidB, nodeB, Peer("a", UuidA, portA, 10)), $"http://127.0.0.1:{portB}");
        await using var edgeC = await EdgeHost.StartAsync(Site(UuidC, nodeC, Peer("a", UuidA, portA, 10)), $"http://127.0.0.1:{portC}");
        var siteA = Site(UuidA, nodeA, Peer("b", UuidB, portB, 10), Peer("c", UuidC, portC, 20));
        await using var edgeA = await EdgeHost.StartAsync(siteA, $"http://127.0.0.1:{portA}");

        // The key is at B and C, not at A: B is the cheaper way (110 against 120).
        var (data, key) = await P2pHttp.PutRandomObjectAsync(P2pHttp.Api(nodeB.Url, nodeB.Uuid), 100_000);
        await P2pHttp.PutObjectAsync(P2pHttp.Api(nodeC.Url, nodeC.Uuid), key, data);
        await Eventually.Async(async () => await edgeA.RouteAsync(nodeC.Uuid) is { } r && r["withdrawn"] is null, Deadline, "A routes to C's node", () => edgeA.Logs);
        var cluster = P2pHttp.Api(edgeA.Url, ClusterUuid);
        Assert.Equal(data, await P2pHttp.GetContentAsync(P2pHttp.Url(cluster, "key/" + key), ct));
        await edgeB.RequestEventAsync("GET", "/key/" + key, 200);
        int Reads(EdgeHost site) => site.Events.All.Count(e => e.IsRequest("GET", "/key/" + key));
        var readsAtB = Reads(edgeB);

        // (Counts, not "nobody else": a GET that p2phttp stalls may go on at the other site, see GetContentAsync.)
        // The link to B becomes dearer (50: 150 against C's 120) in the config file: within a refresh, C serves.
        siteA["Peers"]![0]!["LinkCost"] = 50;
        await edgeA.RewriteConfigAsync(siteA);
        await edgeA.EventAsync(EdgeEventIds.ConfigReloaded);
        await Eventually.Async(async () => await edgeA.RouteAsync(nodeB.Uuid) is { } r && (double)r["cost"]! == 150.0, Deadline,
            "A's route to B's node costs the new link cost", () => edgeA.Logs);
        Assert.Equal(data, await P2pHttp.GetContentAsync(P2pHttp.Url(cluster, "key/" + key), ct));
        await edgeC.RequestEventAsync("GET", "/key/" + key, 200);
        readsAtB = Reads(edgeB);

        // C is no longer a peer: its node's route is withdrawn, and B serves again.
        siteA["Peers"]!.AsArray().RemoveAt(1);
        await edgeA.RewriteConfigAsync(siteA);
        await Eventually.Async(async () => await edgeA.RouteAsync(nodeC.Uuid) is { } r && r["withdrawn"] is not null, Deadline,
            "A withdraws the route through the removed peer", () => edgeA.Logs);
        Assert.Equal("peer c no longer configured", (string?)(await edgeA.RouteAsync(nodeC.Uuid))!["withdrawn"]);
        Assert.Equal(data, await P2pHttp.GetContentAsync(P2pHttp.Url(cluster, "key/" + key), ct));
        await Eventually.Async(() => Task.FromResult(Reads(edgeB) > readsAtB), Deadline, "B serves the read again", () => edgeA.Logs);
    }

    [Fact]
    public async Task A_request_that_could_loop_between_three_gateways_visits_each_at_most_once()
    {
        // A routing loop on purpose: each site believes the next one reaches X (a node nobody has), as a git-annex
        // gateway peer's configured Nodes would say. Only bypass stops the request.
        const string x = "12345678-1234-4234-8234-123456789abc";
        var ct = TestContext.Current.CancellationToken;
        await using var nodeA = await P2pNode.StartAsync("loopa");
        await using var nodeB = await P2pNode.StartAsync("loopb");
        await using var nodeC = await P2pNode.StartAsync("loopc");
        var (portA, portB, portC) = (FreePort.Next(), FreePort.Next(), FreePort.Next());
        await using var edgeA = await EdgeHost.StartAsync(Site(UuidA, nodeA, Peer("b", UuidB, portB, 10, x)), $"http://127.0.0.1:{portA}");
        await using var edgeB = await EdgeHost.StartAsync(Site(UuidB, nodeB, Peer("c", UuidC, portC, 10, x)), $"http://127.0.0.1:{portB}");
        await using var edgeC = await EdgeHost.StartAsync(Site(UuidC, nodeC, Peer("a", UuidA, portA, 10, x)), $"http://127.0.0.1:{portC}");
        foreach (var edge in new[] { edgeA, edgeB, edgeC })
        {
            await Eventually.Async(async () => await edge.RouteAsync(x) is { } r && r["withdrawn"] is null, Deadline, "X routed", () => edge.Logs);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Deadline);
        var (status, _) = await P2pHttp.PostAsync(P2pHttp.Url(P2pHttp.Api(edgeA.Url, x), "checkpresent", "SHA256E-s1--00"), cancellationToken: timeout.Token);

        // A -> B (bypass A) -> C (bypass A, B); C's only way is back to A, which is in bypass: C answers 404.
        Assert.Equal(404, status);
        foreach (var edge in new[] { edgeA, edgeB, edgeC })
        {
            await Eventually.Async(() => RequestsFor(edge, x) == 1, Deadline, "one request per edge", () => edge.Logs);
        }

        await edgeC.RequestEventAsync("POST", "/checkpresent", 404);
        Assert.All(new[] { edgeA, edgeB, edgeC }, e => Assert.Equal(1, RequestsFor(e, x)));
    }

    [Fact]
    public async Task Peers_tell_each_other_of_route_changes_so_a_new_route_and_a_withdrawal_cross_two_hops_long_before_a_refresh()
    {
        await using var nodeA = await P2pNode.StartAsync("tella");
        await using var nodeB = await P2pNode.StartAsync("tellb");
        await using var nodeC = await P2pNode.StartAsync("tellc");
        var (portA, portB, portC) = (FreePort.Next(), FreePort.Next(), FreePort.Next());

        // A line, A - B - C, refreshing every 5 minutes: only being told of changes gets C's node to A within the deadline.
        JsonObject Slow(JsonObject site)
        {
            site["Routing"] = new JsonObject { ["RefreshInterval"] = "00:05:00", ["MaxRouteAge"] = "00:10:00", ["LinkFailures"] = 2, ["MaxHops"] = 4 };
            return site;
        }

        await using var edgeA = await EdgeHost.StartAsync(Slow(Site(UuidA, nodeA, Peer("b", UuidB, portB, 10))), $"http://127.0.0.1:{portA}");
        await using var edgeB = await EdgeHost.StartAsync(Slow(Site(UuidB, nodeB, Peer("a", UuidA, portA, 10), Peer("c", UuidC, portC, 10))), $"http://127.0.0.1:{portB}");
        await using var edgeC = await EdgeHost.StartAsync(Slow(Site(UuidC, nodeC, Peer("b", UuidB, portB, 10))), $"http://127.0.0.1:{portC}");

        await Eventually.Async(async () => await edgeA.RouteAsync(nodeC.Uuid) is { } r && r["withdrawn"] is null && (int)r["hops"]! == 2, Deadline,
            "A routes to C's node through B", () => edgeA.Logs + "\n--- B\n" + edgeB.Logs + "\n--- C\n" + edgeC.Logs);

        nodeC.KillServer(0);
        await Eventually.Async(async () => await edgeA.RouteAsync(nodeC.Uuid) is { } r && r["withdrawn"] is not null, Deadline,
            "A withdraws the route to C's dead node", () => edgeA.Logs + "\n--- B\n" + edgeB.Logs + "\n--- C\n" + edgeC.Logs);
        Assert.Equal("no longer advertised by b", (string?)(await edgeA.RouteAsync(nodeC.Uuid))!["withdrawn"]);
    }

    [Fact]
    public async Task A_flood_of_change_notices_makes_about_one_route_fetch_a_second_and_the_last_notice_is_still_served()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var nodeA = await P2pNode.StartAsync("flood");
        var advertisement = """{"routes":[]}""";
        await using var peer = RawHttpBackend.AnsweringJson(() => Volatile.Read(ref advertisement));
        var config = Site(UuidA, nodeA, new JsonObject
        {
            ["Name"] = "b", ["Uuid"] = UuidB, ["Backends"] = new JsonArray(peer.Url), ["LinkCost"] = 10, ["Clusters"] = new JsonArray("multi"),
        });
        // Only notices make the edge fetch in this test.
        config["Routing"]!["RefreshInterval"] = "00:05:00";
        config["Routing"]!["MaxRouteAge"] = "00:10:00";
        await using var edgeA = await EdgeHost.StartAsync(config);
        await Eventually.Async(() => Fetches(peer) >= 1, Deadline, "the first fetch", () => edgeA.Logs);

        var before = Fetches(peer);
        var flooding = System.Diagnostics.Stopwatch.StartNew();
        var notices = 0;
        while (flooding.Elapsed < TimeSpan.FromSeconds(3))
        {
            await NoticeAsync();
            notices++;

            // Paced, so that each notice could find the last fetch done.
            await Task.Delay(50, ct);
        }

        var elapsed = flooding.Elapsed;
        var fetched = Fetches(peer) - before;

        // Each notice used to start a fetch at once (and each changed route would tell every peer in turn).
        Assert.True(fetched <= elapsed.TotalSeconds / PeerRefresher.MinWakeGap.TotalSeconds + 2, $"{fetched} fetches for {notices} notices during {elapsed}");

        // The last notice tells of a change; however the fetches fell, the edge learns it well before a RefreshInterval.
        const string NodeBehindB = "0c5a3e55-2f3c-4a4e-9b1e-6d2a1f4b7c8d";
        Volatile.Write(ref advertisement, $$"""{"routes":[{"uuid":"{{NodeBehindB}}","cost":5,"hops":1}]}""");
        await NoticeAsync();
        await Eventually.Async(async () => await edgeA.RouteAsync(NodeBehindB) is { } r && (string?)r["nextHop"] == "b" && r["withdrawn"] is null,
            Deadline, "the change told by the last notice", () => edgeA.Logs);

        async Task NoticeAsync()
        {
            var (status, _) = await P2pHttp.PostAsync($"{edgeA.Url}/_annexedge/peer/changed?peer={UuidB}", cancellationToken: ct);
            Assert.True(status is >= 200 and < 300, $"notice answered {status}");
        }
    }

    private static int Fetches(RawHttpBackend peer) =>
        peer.Exchanges.Count(e => e.Head.StartsWith("GET " + PeerEndpoints.RoutesPath, StringComparison.Ordinal));

    [Fact]
    public async Task A_peer_that_is_not_configured_cannot_make_the_edge_fetch_routes()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var nodeA = await P2pNode.StartAsync("tellx");
        await using var edgeA = await EdgeHost.StartAsync(Site(UuidA, nodeA, Peer("b", UuidB, FreePort.Next(), 10)), $"http://127.0.0.1:{FreePort.Next()}");

        var (unknown, _) = await P2pHttp.PostAsync($"{edgeA.Url}/_annexedge/peer/changed?peer={UuidC}", cancellationToken: ct);
        Assert.Equal(404, unknown);
        await edgeA.EventAsync(EdgeEventIds.UnknownPeerAsked, e => e.Text("Peer") == UuidC);
    }

    [Fact]
    public async Task In_a_triangle_of_advertising_edges_a_dead_nodes_route_is_withdrawn_everywhere_within_the_hop_limit()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var nodeA = await P2pNode.StartAsync("tria");
        await using var nodeB = await P2pNode.StartAsync("trib");
        await using var nodeC = await P2pNode.StartAsync("tric");
        var (portA, portB, portC) = (FreePort.Next(), FreePort.Next(), FreePort.Next());
        await using var edgeA = await EdgeHost.StartAsync(Site(UuidA, nodeA, Peer("b", UuidB, portB, 10), Peer("c", UuidC, portC, 50)), $"http://127.0.0.1:{portA}");
        await using var edgeB = await EdgeHost.StartAsync(Site(UuidB, nodeB, Peer("a", UuidA, portA, 10), Peer("c", UuidC, portC, 10)), $"http://127.0.0.1:{portB}");
        await using var edgeC = await EdgeHost.StartAsync(Site(UuidC, nodeC, Peer("a", UuidA, portA, 50), Peer("b", UuidB, portB, 10)), $"http://127.0.0.1:{portC}");
        var edges = new[] { edgeA, edgeB, edgeC };

        // A reaches C's node by the cheaper path through B (10 + 10 + 100) rather than directly (50 + 100).
        await Eventually.Async(async () => await edgeA.RouteAsync(nodeC.Uuid) is { } r && (string?)r["nextHop"] == "b" && (int)r["hops"]! == 2,
            Deadline, "A routes to C's node through B", () => edgeA.Logs);
        Assert.Equal(120.0, (double)(await edgeA.RouteAsync(nodeC.Uuid))!["cost"]!);

        nodeC.KillServer(0);
        var maxHops = 0;
        await Eventually.Async(async () =>
        {
            var routes = await Task.WhenAll(edges.Select(e => e.RouteAsync(nodeC.Uuid)));
            maxHops = Math.Max(maxHops, routes.Max(r => r?["withdrawn"] is null ? (int?)r?["hops"] ?? 0 : 0));
            // Withdrawn, or already forgotten (after MaxRouteAge).
            return routes.All(r => r is null || r["withdrawn"] is not null);
        }, Deadline, "every edge withdraws the route to C's dead node", () => string.Join("\n---\n", edges.Select(e => e.Logs)));

        Assert.True(maxHops <= 4, $"a route of {maxHops} hops was seen, over MaxHops 4");
        // And no request for it loops either.
        var (status, _) = await P2pHttp.PostAsync(P2pHttp.Url(P2pHttp.Api(edgeA.Url, nodeC.Uuid), "checkpresent", "SHA256E-s1--00"), cancellationToken: ct);
        Assert.Equal(404, status);
    }
}
