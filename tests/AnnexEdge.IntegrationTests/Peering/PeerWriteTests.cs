using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Faults;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;

namespace AnnexEdge.IntegrationTests.Peering;

/// <summary>
/// Writes to a cluster that spans sites: three edges on loopback as sites A, B (two nodes) and C, peering with each
/// other, each with real p2phttp nodes. A put or remove of the cluster at A reaches every node at every site, the nodes
/// of another site with one request to that site's edge, and the answer names exactly the nodes that confirmed.
/// </summary>
public sealed class PeerWriteTests
{
    private const string ClusterUuid = "ac1f5c3e-2b44-8d01-9a7e-0c3b5d6e7f81";
    private const string UuidA = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaab";
    private const string UuidB = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbc";
    private const string UuidC = "cccccccc-cccc-4ccc-8ccc-cccccccccccd";

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static JsonObject Site(string uuid, P2pNode[] nodes, params JsonObject[] peers) => Site(uuid, "multi", ClusterUuid, nodes, peers);

    private static JsonObject Site(string uuid, string clusterName, string clusterUuid, P2pNode[] nodes, params JsonObject[] peers)
    {
        var config = EdgeHost.ConfigFor(nodes);
        config["Uuid"] = uuid;
        config["Clusters"] = new JsonArray(new JsonObject
        {
            ["Name"] = clusterName,
            ["Uuid"] = clusterUuid,
            ["Nodes"] = new JsonArray(nodes.Select(n => (JsonNode)JsonValue.Create(n.Name)!).ToArray()),
        });
        Peered(config, peers);
        return config;
    }

    private static void Peered(JsonObject config, params JsonObject[] peers)
    {
        config["Peers"] = new JsonArray(peers);
        config["Routing"] = new JsonObject { ["RefreshInterval"] = "00:00:00.300", ["MaxRouteAge"] = "00:00:10", ["LinkFailures"] = 2, ["MaxHops"] = 4 };
    }

    private static JsonObject Peer(string name, string uuid, string url, params string[] nodes) => PeerOf("multi", name, uuid, url, nodes);

    private static JsonObject PeerOf(string cluster, string name, string uuid, string url, params string[] nodes)
    {
        var peer = new JsonObject
        {
            ["Name"] = name,
            ["Uuid"] = uuid,
            ["Backends"] = new JsonArray(url),
            ["LinkCost"] = 10,
            ["Clusters"] = new JsonArray(cluster),
        };
        if (nodes.Length > 0)
        {
            peer["Nodes"] = new JsonArray(nodes.Select(n => (JsonNode)JsonValue.Create(n)!).ToArray());
        }

        return peer;
    }

    private static Task RoutedAsync(EdgeHost edge, P2pNode node, string via) =>
        Eventually.Async(async () => await edge.RouteAsync(node.Uuid) is { } r && r["withdrawn"] is null && (string?)r["nextHop"] == via, Deadline,
            $"{node.Name} routed via {via}", () => edge.Logs);

    private static int Requests(EdgeHost edge, string endpoint, string key) =>
        edge.Events.All.Count(e => e.IsRequest("POST", "/" + endpoint) && e.Text(RequestLogProperties.Key) == key);

    /// <summary>The bytes of the key's body a site's last answered put received; null before it is logged.</summary>
    private static long? PutBytesIn(EdgeHost site, string key) =>
        site.Events.All.LastOrDefault(e => e.IsRequest("POST", "/put", 200) && e.Text(RequestLogProperties.Key) == key)?.Number(RequestLogProperties.BytesIn);

    private static string[] PlusUuids(string answer) =>
        JsonDocument.Parse(answer).RootElement.TryGetProperty("plusuuids", out var plus) ? plus.EnumerateArray().Select(u => u.GetString()!).Order().ToArray() : [];

    private static async Task<string> PutAsync(string cluster, string key, byte[] data, CancellationToken ct)
    {
        var content = new ByteArrayContent(data);
        content.Headers.Add("X-git-annex-data-length", data.Length.ToString(CultureInfo.InvariantCulture));
        var (status, body) = await P2pHttp.PostAsync(P2pHttp.Url(cluster, "put", key), content, ct);
        Assert.Equal(200, status);
        return body;
    }

    /// <summary>Three sites in a full mesh: A (a1), B (b1, b2), C (c1); every edge routes every other site's nodes directly to their site.</summary>
    private sealed class ThreeSites : IAsyncDisposable
    {
        private readonly List<IAsyncDisposable> _owned = [];

        public P2pNode A1 { get; private set; } = null!;
        public P2pNode B1 { get; private set; } = null!;
        public P2pNode B2 { get; private set; } = null!;
        public P2pNode C1 { get; private set; } = null!;
        public EdgeHost A { get; private set; } = null!;
        public EdgeHost B { get; private set; } = null!;
        public EdgeHost C { get; private set; } = null!;

        public P2pNode[] Nodes => [A1, B1, B2, C1];

        public EdgeHost[] Edges => [A, B, C];

        public string Logs => string.Join("\n--- next site\n", Edges.Select(e => e.Logs));

        public static async Task<ThreeSites> StartAsync(string prefix)
        {
            var sites = new ThreeSites();
            sites.A1 = sites.Own(await P2pNode.StartAsync(prefix + "a1"));
            sites.B1 = sites.Own(await P2pNode.StartAsync(prefix + "b1"));
            sites.B2 = sites.Own(await P2pNode.StartAsync(prefix + "b2"));
            sites.C1 = sites.Own(await P2pNode.StartAsync(prefix + "c1"));
            var (portA, portB, portC) = (FreePort.Next(), FreePort.Next(), FreePort.Next());
            var (urlA, urlB, urlC) = ($"http://127.0.0.1:{portA}", $"http://127.0.0.1:{portB}", $"http://127.0.0.1:{portC}");
            sites.A = sites.Own(await EdgeHost.StartAsync(Site(UuidA, [sites.A1], Peer("b", UuidB, urlB), Peer("c", UuidC, urlC)), urlA));
            sites.B = sites.Own(await EdgeHost.StartAsync(Site(UuidB, [sites.B1, sites.B2], Peer("a", UuidA, urlA), Peer("c", UuidC, urlC)), urlB));
            sites.C = sites.Own(await EdgeHost.StartAsync(Site(UuidC, [sites.C1], Peer("a", UuidA, urlA), Peer("b", UuidB, urlB)), urlC));

            // Every site knows every other site's nodes, so a peer that ignored bypass would store them a second time.
            await RoutedAsync(sites.A, sites.B1, "b");
            await RoutedAsync(sites.A, sites.B2, "b");
            await RoutedAsync(sites.A, sites.C1, "c");
            await RoutedAsync(sites.B, sites.C1, "c");
            await RoutedAsync(sites.B, sites.A1, "a");
            await RoutedAsync(sites.C, sites.B1, "b");
            await RoutedAsync(sites.C, sites.A1, "a");
            return sites;
        }

        private T Own<T>(T disposable)
            where T : IAsyncDisposable
        {
            _owned.Add(disposable);
            return disposable;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var owned in Enumerable.Reverse(_owned))
            {
                await owned.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_put_to_the_cluster_at_one_site_lands_on_every_node_at_every_site_with_one_put_per_peer_and_a_remove_removes_everywhere()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var sites = await ThreeSites.StartAsync("pw");
        var cluster = P2pHttp.Api(sites.A.Url, ClusterUuid);

        // Larger than NodePuts.SmallKeySize, so the client's putoffset is asked of the nodes: A's node and, as
        // wanting it all, each peer.
        var (data, key) = P2pHttp.RandomObject(1_500_000);
        var offset = await P2pHttp.PostJsonAsync(P2pHttp.Url(cluster, "putoffset", key));
        Assert.Equal(0, offset.GetProperty("offset").GetInt64());
        var answer = await PutAsync(cluster, key, data, ct);

        Assert.Contains("\"stored\":true", answer, StringComparison.Ordinal);
        Assert.Equal(sites.Nodes.Select(n => n.Uuid).Order().ToArray(), PlusUuids(answer));
        foreach (var node in sites.Nodes)
        {
            Assert.True(await node.HasKeyAsync(key), $"{node.Name} holds the key\n{sites.Logs}");
        }

        // One put per peer: B's two nodes got it from one put of the cluster at B, and neither B nor C passed it on.
        await Eventually.Async(() => Requests(sites.B, "put", key) == 1 && Requests(sites.C, "put", key) == 1, Deadline, "one put at B and one at C", () => sites.Logs);
        await sites.A.EventAsync(EdgeEventIds.ClusterPutThroughPeer, e => e.Text("Peer") == "b" && e.Text("Nodes") == string.Join(' ', new[] { sites.B1.Uuid, sites.B2.Uuid }.Order(StringComparer.Ordinal)));
        Assert.Equal((1, 1, 1), (Requests(sites.A, "put", key), Requests(sites.B, "put", key), Requests(sites.C, "put", key)));

        // The remove reaches every node, once, wherever it is.
        var removed = await P2pHttp.PostJsonAsync(P2pHttp.Url(cluster, "remove", key));
        Assert.True(removed.GetProperty("removed").GetBoolean(), removed.ToString());
        Assert.Equal(sites.Nodes.Select(n => n.Uuid).Order().ToArray(), PlusUuids(removed.GetRawText()));
        foreach (var node in sites.Nodes)
        {
            Assert.False(await node.HasKeyAsync(key), $"{node.Name} no longer holds the key");
        }

        await Eventually.Async(() => Requests(sites.B, "remove", key) == 1 && Requests(sites.C, "remove", key) == 1, Deadline, "one remove at B and one at C", () => sites.Logs);
        Assert.False(await P2pHttp.IsPresentAsync(cluster, key));
    }

    [Fact]
    public async Task A_site_whose_nodes_have_the_key_already_is_not_sent_it_again_and_a_putoffset_names_every_node_that_has_it()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var sites = await ThreeSites.StartAsync("ps");
        var cluster = P2pHttp.Api(sites.A.Url, ClusterUuid);
        var (data, key) = P2pHttp.RandomObject(1_500_000);
        await P2pHttp.PutObjectAsync(P2pHttp.Api(sites.B1.Url, sites.B1.Uuid), key, data);
        await P2pHttp.PutObjectAsync(P2pHttp.Api(sites.B2.Url, sites.B2.Uuid), key, data);

        // a1 and c1 want it all; B, asked at putoffset, has it on both its nodes.
        var offset = await P2pHttp.PostJsonAsync(P2pHttp.Url(cluster, "putoffset", key));
        Assert.Equal(0, offset.GetProperty("offset").GetInt64());
        var answer = await PutAsync(cluster, key, data, ct);
        Assert.Equal(sites.Nodes.Select(n => n.Uuid).Order().ToArray(), PlusUuids(answer));
        Assert.True(await sites.A1.HasKeyAsync(key) && await sites.C1.HasKeyAsync(key), sites.Logs);

        // B was asked which of its nodes hold it (a put with data-present) and sent no byte of it; C got all of it.
        await Eventually.Async(() => PutBytesIn(sites.B, key) is not null && PutBytesIn(sites.C, key) is not null, Deadline, "B and C logged their puts", () => sites.Logs);
        Assert.Equal((0L, (long)data.Length), (PutBytesIn(sites.B, key), PutBytesIn(sites.C, key)));

        // Now every node at every site has it: the cluster's putoffset says so, naming them all.
        var again = await P2pHttp.PostJsonAsync(P2pHttp.Url(cluster, "putoffset", key));
        Assert.True(again.TryGetProperty("alreadyhave", out var have) && have.GetBoolean(), again.ToString());
        Assert.Equal(sites.Nodes.Select(n => n.Uuid).Order().ToArray(), PlusUuids(again.GetRawText()));

        // So does a client's put with data-present, which sends nothing.
        var present = new ByteArrayContent([]);
        present.Headers.Add("X-git-annex-data-length", "0");
        var (status, body) = await P2pHttp.PostAsync(P2pHttp.Url(cluster, "put", key) + "&data-present=true", present, ct);
        Assert.Equal(200, status);
        Assert.Contains("\"stored\":true", body, StringComparison.Ordinal);
        Assert.Equal(sites.Nodes.Select(n => n.Uuid).Order().ToArray(), PlusUuids(body));
    }

    [Fact]
    public async Task A_site_with_part_of_the_key_is_sent_only_the_rest()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var sites = await ThreeSites.StartAsync("pp");
        var cluster = P2pHttp.Api(sites.A.Url, ClusterUuid);
        var (data, key) = P2pHttp.RandomObject(3_000_000);

        // b2 has it all; b1 has the first part of it, from a put straight to it that broke off.
        await P2pHttp.PutObjectAsync(P2pHttp.Api(sites.B2.Url, sites.B2.Uuid), key, data);
        var partialPath = Path.Combine(sites.B1.RepositoryPath, ".git", "annex", "tmp", key);
        using (var broken = new HttpRequestMessage(HttpMethod.Post, P2pHttp.Url(P2pHttp.Api(sites.B1.Url, sites.B1.Uuid), "put", key)) { Content = new BreaksOffContent(data, 1_000_000) })
        {
            broken.Content.Headers.Add("X-git-annex-data-length", data.Length.ToString(CultureInfo.InvariantCulture));
            await Assert.ThrowsAnyAsync<Exception>(() => P2pHttp.Http.SendAsync(broken, ct));
        }

        var tmp = Path.Combine(sites.B1.RepositoryPath, ".git", "annex", "tmp");
        await Eventually.Async(
            () => Task.FromResult(File.Exists(partialPath) && sites.B1.OpenFilesUnder(0, tmp).Count == 0), Deadline, "b1 keeps a closed partial object", () => sites.B1.Logs);
        var partial = new FileInfo(partialPath).Length;
        Assert.InRange(partial, 1, data.Length - 1);

        var offset = await P2pHttp.PostJsonAsync(P2pHttp.Url(cluster, "putoffset", key));
        Assert.Equal(0, offset.GetProperty("offset").GetInt64());
        var answer = await PutAsync(cluster, key, data, ct);
        Assert.Equal(sites.Nodes.Select(n => n.Uuid).Order().ToArray(), PlusUuids(answer));
        Assert.True(await sites.B1.HasKeyAsync(key), sites.Logs);

        // B got only what b1 lacked (b2 had it all); C, which had nothing, all of it.
        await Eventually.Async(() => PutBytesIn(sites.B, key) is not null && PutBytesIn(sites.C, key) is not null, Deadline, "B and C logged their puts", () => sites.Logs);
        Assert.Equal((data.Length - partial, (long)data.Length), (PutBytesIn(sites.B, key), PutBytesIn(sites.C, key)));
    }

    [Fact]
    public async Task With_copies_a_put_places_the_copies_its_own_nodes_cannot_hold_at_another_site_and_that_site_writes_only_those()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var a1 = await P2pNode.StartAsync("pca1");
        await using var b1 = await P2pNode.StartAsync("pcb1");
        await using var b2 = await P2pNode.StartAsync("pcb2");
        var (urlA, urlB) = ($"http://127.0.0.1:{FreePort.Next()}", $"http://127.0.0.1:{FreePort.Next()}");
        await using var edgeB = await EdgeHost.StartAsync(Site(UuidB, [b1, b2], Peer("a", UuidA, urlA)), urlB);
        var siteA = Site(UuidA, [a1], Peer("b", UuidB, urlB));
        siteA["Clusters"]![0]!["Copies"] = 2;
        await using var edgeA = await EdgeHost.StartAsync(siteA, urlA);
        await RoutedAsync(edgeA, b1, "b");
        await RoutedAsync(edgeA, b2, "b");
        var cluster = P2pHttp.Api(edgeA.Url, ClusterUuid);

        foreach (var size in new[] { 300_000, 1_500_000 })
        {
            // Two copies, one node here: the other copy goes to one of B's nodes (equal cost: the key decides which).
            var (data, key) = P2pHttp.RandomObject(size);
            var answer = await PutAsync(cluster, key, data, ct);
            var holders = new List<string>();
            foreach (var node in new[] { a1, b1, b2 })
            {
                if (await node.HasKeyAsync(key))
                {
                    holders.Add(node.Uuid);
                }
            }

            Assert.True(holders.Count == 2 && holders.Contains(a1.Uuid), $"holders {string.Join(' ', holders)}\n{edgeA.Logs}\n--- B\n{edgeB.Logs}");
            Assert.Equal(holders.Order().ToArray(), PlusUuids(answer));
        }
    }

    /// <summary>A body that sends its first bytes and then fails, as a client that goes away mid-upload.</summary>
    private sealed class BreaksOffContent(byte[] data, int after) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            await stream.WriteAsync(data.AsMemory(0, after));
            await stream.FlushAsync();
            throw new IOException("the client went away");
        }

        protected override bool TryComputeLength(out long length)
        {
            length = data.Length;
            return true;
        }
    }

    [Fact]
    public async Task A_dead_node_at_another_site_is_never_reported_to_have_stored_the_put_nor_a_removal_claimed_done_without_it()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var sites = await ThreeSites.StartAsync("pd");
        var cluster = P2pHttp.Api(sites.A.Url, ClusterUuid);

        // Whether or not A has withdrawn c1's route yet, c1 cannot confirm, so it is not named.
        sites.C1.KillServer(0);
        var (data, key) = P2pHttp.RandomObject(300_000);
        var answer = await PutAsync(cluster, key, data, ct);

        Assert.Contains("\"stored\":true", answer, StringComparison.Ordinal);
        Assert.Equal(new[] { sites.A1.Uuid, sites.B1.Uuid, sites.B2.Uuid }.Order().ToArray(), PlusUuids(answer));
        Assert.False(await sites.C1.HasKeyAsync(key));
        Assert.True(await sites.B2.HasKeyAsync(key));

        // Once A has withdrawn c1's route, a remove of the cluster cannot reach c1: it is done on every node it can
        // reach and named there, but never claimed removed from the cluster.
        await Eventually.Async(async () => await sites.A.RouteAsync(sites.C1.Uuid) is { } r && r["withdrawn"] is not null, Deadline, "A withdraws c1", () => sites.Logs);
        var removed = await P2pHttp.PostJsonAsync(P2pHttp.Url(cluster, "remove", key));
        Assert.False(removed.GetProperty("removed").GetBoolean(), removed.ToString());
        Assert.Equal(new[] { sites.A1.Uuid, sites.B1.Uuid, sites.B2.Uuid }.Order().ToArray(), PlusUuids(removed.GetRawText()));
        Assert.False(await sites.B2.HasKeyAsync(key));
    }

    [Fact]
    public async Task Two_clients_putting_one_key_through_two_sites_at_once_are_both_answered_and_every_node_holds_it()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var sites = await ThreeSites.StartAsync("pc");
        var (data, key) = P2pHttp.RandomObject(800_000);

        // Each site's own put holds its nodes while its put at the other site waits for them: had a put from a peer
        // waited for the other's, neither would be answered before the stall timeout (2 minutes).
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Deadline);
        var answers = await Task.WhenAll(
            PutAsync(P2pHttp.Api(sites.A.Url, ClusterUuid), key, data, timeout.Token),
            PutAsync(P2pHttp.Api(sites.B.Url, ClusterUuid), key, data, timeout.Token));

        Assert.All(answers, a => Assert.Contains("\"stored\":true", a, StringComparison.Ordinal));
        Assert.Equal(sites.Nodes.Select(n => n.Uuid).Order().ToArray(), answers.SelectMany(PlusUuids).Distinct().Order().ToArray());
        foreach (var node in sites.Nodes)
        {
            Assert.True(await node.HasKeyAsync(key), $"{node.Name} holds the key\n{sites.Logs}");
        }
    }

    [Fact]
    public async Task A_git_annex_client_copying_to_the_cluster_at_one_site_finds_the_file_on_every_node_at_every_site_and_gets_it_from_the_cheapest_live_site()
    {
        const string cluster = ClusterLab.ClusterName;
        var (urlB, urlC) = ($"http://127.0.0.1:{FreePort.Next()}", $"http://127.0.0.1:{FreePort.Next()}");

        // Site A is the lab's edge (three nodes, the gateway repository the client cloned); B and C have one node each.
        // From A, B is the cheaper site (link cost 10 against 20).
        // git-annex's p2phttp now and then stalls the first GET of a key it has just got (ClusterDownload); A then
        // continues from the next site. A short ActivityTimeout keeps that from costing the default two minutes.
        void AtA(JsonObject config, double linkCostB)
        {
            var (toB, toC) = (PeerOf(cluster, "b", UuidB, urlB), PeerOf(cluster, "c", UuidC, urlC));
            toB["LinkCost"] = linkCostB;
            toC["LinkCost"] = 20;
            Peered(config, toB, toC);
            config["Forwarding"] = new JsonObject { ["ActivityTimeout"] = "00:00:05" };
        }

        await using var lab = await ClusterLab.StartAsync(withClient: true, config => AtA(config, 10));
        await using var b1 = await P2pNode.StartAsync("gcb1");
        await using var c1 = await P2pNode.StartAsync("gcc1");
        JsonObject ToA() => PeerOf(cluster, "a", lab.GatewayUuid, lab.Edge.Url);
        await using var edgeB = await EdgeHost.StartAsync(Site(UuidB, cluster, lab.ClusterUuid, [b1], ToA(), PeerOf(cluster, "c", UuidC, urlC)), urlB);
        await using var edgeC = await EdgeHost.StartAsync(Site(UuidC, cluster, lab.ClusterUuid, [c1], ToA(), PeerOf(cluster, "b", UuidB, urlB)), urlC);
        await RoutedAsync(lab.Edge, b1, "b");
        await RoutedAsync(lab.Edge, c1, "c");

        // B's and C's gateway repositories extend the cluster, and A's is extended to them (docs/multisite.md), so the
        // client knows their nodes as remotes reached through A (origin-b-b1, origin-c-c1).
        using var gateways = new TempDirectory("sites");
        await lab.ExtendToGatewayAsync("b", gateways.Combine("b"), UuidB, urlB, [("b1", b1.RepositoryPath)]);
        await lab.ExtendToGatewayAsync("c", gateways.Combine("c"), UuidC, urlC, [("c1", c1.RepositoryPath)]);
        // (sync's exit code says only that the gateway repositories have no main branch to merge.)
        await lab.Client.GitAsync("annex", "sync", "-q", "--no-content");
        var key = await lab.Client.AddRandomFileAsync("file.bin", 3_000_000);

        (await lab.Client.GitAsync("annex", "copy", "--to", "origin-" + cluster, "file.bin")).EnsureSuccess("copy --to the cluster at site A");

        P2pNode[] everyNode = [.. lab.Nodes, b1, c1];
        foreach (var node in everyNode)
        {
            Assert.True(await node.HasKeyAsync(key), $"{node.Name} holds the file\n{lab.Edge.Logs}");
        }

        // The client's location log, from the answer's plusuuids: every node at every site, the cluster, and the
        // client itself.
        var here = (await lab.Client.GitAsync("config", "annex.uuid")).EnsureSuccess("annex.uuid").Output.Trim();
        var json = (await lab.Client.GitAsync("annex", "whereis", "--json", "file.bin")).EnsureSuccess("whereis --json").Output;
        var holders = JsonDocument.Parse(json).RootElement.GetProperty("whereis").EnumerateArray().Select(w => w.GetProperty("uuid").GetString()!).ToArray();
        Assert.Equal(everyNode.Select(n => n.Uuid).Append(lab.ClusterUuid).Append(here).Order().ToArray(), holders.Order().ToArray());

        int Reads(EdgeHost site) => site.Events.All.Count(e => e.IsRequest("GET", "/key/" + key, 200));

        // How often A continued a stalled download from the peer of this name (the node's name at A is its peer's).
        int ContinuedAt(string peer) =>
            lab.Edge.Events.All.Count(e => e.EventId() == EdgeEventIds.ClusterDownloadResumed && e.Text("Node") == peer);
        string Sites() => $"reads at B {Reads(edgeB)}, at C {Reads(edgeC)}; A continued at B {ContinuedAt("b")}, at C {ContinuedAt("c")}\n{lab.Edge.Logs}";
        async Task DropAsync(string why) =>
            (await lab.Client.GitAsync("annex", "drop", "file.bin")).EnsureSuccess("drop the client's copy, " + why);
        async Task GetAsync(string why)
        {
            (await lab.Client.GitAsync("annex", "get", "--from", "origin-" + cluster, "file.bin")).EnsureSuccess("get from the cluster, " + why);
            (await lab.Client.GitAsync("annex", "fsck", "--fast", "file.bin")).EnsureSuccess("the file got is whole, " + why);
        }

        // A's own nodes serve A's clients: no other site is read. (The drops lock a copy on one of A's nodes.)
        await DropAsync("while A's nodes run");
        await GetAsync("while A's nodes run");
        Assert.Equal((0, 0), (Reads(edgeB), Reads(edgeC)));

        // With A's nodes stopped, the cheaper site, B, serves.
        await DropAsync("before A's nodes stop");
        foreach (var node in lab.Nodes)
        {
            node.KillServer(0);
        }

        // C is read only to continue what B's node stalled (see above): B was chosen.
        await GetAsync("with A's nodes stopped");
        Assert.True(Reads(edgeB) > 0 && (Reads(edgeC) == 0 || ContinuedAt("c") > 0), "B serves: " + Sites());

        // The client's drop now locks a copy at B or C through A (A's nodes are gone).
        await DropAsync("with A's nodes stopped");
        Assert.Contains(new[] { edgeB, edgeC }.SelectMany(e => e.Events.All), e => e.IsRequest("POST", "/lockcontent", 200));

        // The link to B becomes dearer (50) in A's config file: within one refresh, C serves.
        await lab.Edge.RewriteConfigAsync(lab.EdgeConfig(config => AtA(config, 50)));
        await Eventually.Async(async () => await lab.Edge.RouteAsync(c1.Uuid) is { } r && (double)r["cost"]! == 120.0
            && await lab.Edge.RouteAsync(b1.Uuid) is { } rb && (double)rb["cost"]! > 120.0, Deadline, "A's routes follow the new link cost", () => lab.Edge.Logs);
        var (readsAtB, readsAtC, continuedAtB) = (Reads(edgeB), Reads(edgeC), ContinuedAt("b"));
        await GetAsync("after B's link became dearer");
        Assert.True(Reads(edgeC) > readsAtC && (Reads(edgeB) == readsAtB || ContinuedAt("b") > continuedAtB), "C serves: " + Sites());
    }

    [Fact]
    public async Task A_peer_that_breaks_off_mid_body_stores_nothing_and_the_local_node_still_does_and_a_peer_answer_counts_only_the_nodes_it_names()
    {
        var ct = TestContext.Current.CancellationToken;
        const string brokenNode = "dddddddd-dddd-4ddd-8ddd-ddddddddddd1";
        const string goodNode = "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeee1";
        await using var a1 = await P2pNode.StartAsync("pfa1");

        // Two git-annex-gateway-like peers (configured Nodes, no route fetches): one reads part of the body and hangs
        // up, the other reads it all and answers stored for its node (and, wrongly, the cluster UUID).
        await using var broken = new RawHttpBackend(async (head, stream, token) =>
        {
            if (head.Contains("/put?", StringComparison.Ordinal))
            {
                await stream.ReadExactlyAsync(new byte[64 * 1024], token);
            }
        });
        await using var good = new RawHttpBackend(async (head, stream, token) =>
        {
            var length = int.Parse(head.Split("\r\n").First(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))[15..].Trim(), CultureInfo.InvariantCulture);
            await stream.ReadExactlyAsync(new byte[length], token);
            var json = $$"""{"plusuuids":["{{goodNode}}","{{ClusterUuid}}"],"stored":true}""";
            await RawHttpBackend.WriteHeadAsync(stream, "200 OK", ["Content-Type: application/json", $"Content-Length: {json.Length}"], token);
            await stream.WriteAsync(Encoding.ASCII.GetBytes(json), token);
        });
        await using var edge = await EdgeHost.StartAsync(Site(UuidA, [a1], Peer("broken", UuidB, broken.Url, brokenNode), Peer("good", UuidC, good.Url, goodNode)));

        foreach (var node in new[] { brokenNode, goodNode })
        {
            await Eventually.Async(async () => await edge.RouteAsync(node) is { } r && r["withdrawn"] is null, Deadline, node + " routed", () => edge.Logs);
        }

        var cluster = P2pHttp.Api(edge.Url, ClusterUuid);
        var (data, key) = P2pHttp.RandomObject(600_000);
        var answer = await PutAsync(cluster, key, data, ct);

        Assert.Contains("\"stored\":true", answer, StringComparison.Ordinal);
        Assert.Equal(new[] { a1.Uuid, goodNode }.Order().ToArray(), PlusUuids(answer));
        Assert.True(await a1.HasKeyAsync(key), edge.Logs);
        await edge.EventAsync(EdgeEventIds.ClusterPeerDidNotStore, e => e.Text("Peer") == "broken");

        // Each peer was asked for the cluster, one put each, told to leave alone this edge (its gateway UUID and its
        // node) and the other peer's node.
        var put = Assert.Single(good.Exchanges, x => x.Head.Contains("/put?", StringComparison.Ordinal)).Head.Split("\r\n")[0];
        Assert.Contains($"/git-annex/{ClusterUuid}/", put, StringComparison.Ordinal);
        foreach (var bypassed in new[] { UuidA, a1.Uuid, brokenNode })
        {
            Assert.Contains("bypass=" + bypassed, put, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("bypass=" + goodNode, put, StringComparison.Ordinal);
        Assert.Single(broken.Exchanges, x => x.Head.Contains("/put?", StringComparison.Ordinal));
    }
}
