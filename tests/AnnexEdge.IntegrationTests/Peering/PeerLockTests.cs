using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;

namespace AnnexEdge.IntegrationTests.Peering;

/// <summary>
/// Locks on a node of another site, taken through this edge and its peer (an AnnexEdge): the lock a client is told it
/// holds is held by the node at the other site until the client unlocks, and a real git-annex client can rely on it to
/// drop its own copy.
/// </summary>
public sealed class PeerLockTests
{
    private const string ClusterUuid = "ac1f5c3e-2b44-8d01-9a7e-0c3b5d6e7f81";
    private const string UuidA = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaab";
    private const string UuidB = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbc";
    private const string UuidC = "cccccccc-cccc-4ccc-8ccc-cccccccccccd";

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static JsonObject Site(string uuid, P2pNode node, params JsonObject[] peers)
    {
        var config = EdgeHost.ConfigFor(node);
        config["Uuid"] = uuid;
        config["Clusters"] = new JsonArray(new JsonObject { ["Name"] = "locks", ["Uuid"] = ClusterUuid, ["Nodes"] = new JsonArray(node.Name) });
        config["Peers"] = new JsonArray(peers);
        config["Routing"] = new JsonObject { ["RefreshInterval"] = "00:00:00.300", ["MaxRouteAge"] = "00:00:10", ["LinkFailures"] = 2, ["MaxHops"] = 4 };
        return config;
    }

    private static JsonObject Peer(string name, string uuid, int port, double linkCost) => new()
    {
        ["Name"] = name, ["Uuid"] = uuid, ["Backends"] = new JsonArray($"http://127.0.0.1:{port}"),
        ["LinkCost"] = linkCost, ["Clusters"] = new JsonArray("locks"),
    };

    /// <summary>Site A and site B, each an edge with one node, peering; A routes to B's node.</summary>
    private static async Task<(EdgeHost A, EdgeHost B)> StartSitesAsync(P2pNode nodeA, P2pNode nodeB)
    {
        var (portA, portB) = (FreePort.Next(), FreePort.Next());
        var edgeB = await EdgeHost.StartAsync(Site(UuidB, nodeB, Peer("a", UuidA, portA, 10)), $"http://127.0.0.1:{portB}");
        try
        {
            var edgeA = await EdgeHost.StartAsync(Site(UuidA, nodeA, Peer("b", UuidB, portB, 10)), $"http://127.0.0.1:{portA}");
            await Eventually.Async(async () => await NextHopAsync(edgeA, nodeB.Uuid) == "b", Deadline, "A routes to B's node through b", () => edgeA.Logs);
            return (edgeA, edgeB);
        }
        catch
        {
            await edgeB.DisposeAsync();
            throw;
        }
    }

    /// <summary>The live route's next hop to the destination, or null.</summary>
    private static async Task<string?> NextHopAsync(EdgeHost edge, string destination)
    {
        var route = await edge.RouteAsync(destination);
        return route?["withdrawn"] is null ? (string?)route?["nextHop"] : null;
    }

    [Fact]
    public async Task A_lock_on_another_sites_node_taken_through_the_peer_is_held_by_that_node_until_the_client_unlocks()
    {
        await using var nodeA = await P2pNode.StartAsync("locka");
        await using var nodeB = await P2pNode.StartAsync("lockb");
        var (edgeA, edgeB) = await StartSitesAsync(nodeA, nodeB);
        await using var _ = edgeB;
        await using var __ = edgeA;
        var (_, key) = await P2pHttp.PutRandomObjectAsync(P2pHttp.Api(nodeB.Url, nodeB.Uuid), 50_000);
        var api = P2pHttp.Api(edgeA.Url, nodeB.Uuid);

        var token = await P2pHttp.LockAsync(api, key);

        // B granted it (its own token inside A's, which the client never sees), and B's node holds the lock.
        await edgeB.RequestEventAsync("POST", "/lockcontent", 200);
        await using (var session = KeepLockedSession.Open(api, token))
        {
            await ContentLock.AssertHeldAsync(nodeB, key);
            Assert.False(session.Answered, "keeplocked answered while the client still holds the lock");

            var (status, body) = await session.UnlockAsync();
            Assert.Equal((200, "{\"locked\":false}"), (status, body));
        }

        // The unlock went on to B and from there to the node that held the lock.
        await edgeB.RequestEventAsync("POST", "/keeplocked", 200);
        await ContentLock.AssertReleasedByDroppingAsync(nodeB, key);

        // A token is good for one keeplocked: the lock is over, and A relays the same token nowhere.
        var (again, _) = await KeepLockedAgainAsync(api, token);
        Assert.Equal(400, again);
    }

    [Fact]
    public async Task A_client_drops_its_own_copy_when_the_only_other_copy_is_at_another_site_locked_through_the_peer()
    {
        await using var nodeA = await P2pNode.StartAsync("dropa");
        await using var nodeB = await P2pNode.StartAsync("dropb");
        var (edgeA, edgeB) = await StartSitesAsync(nodeA, nodeB);
        await using var _ = edgeB;
        await using var __ = edgeA;

        // The client's origin is B's node, reached through A (its annexUrl): every request goes A → B → node.
        await using var client = await AnnexClient.CloneAsync(nodeB, edgeA.AnnexUrl);
        var key = await client.AddRandomFileAsync("file.bin", 200_000);
        (await client.GitAsync("annex", "copy", "-q", "--to", "origin", "file.bin")).EnsureSuccess("copy --to origin");
        Assert.True(await nodeB.HasKeyAsync(key));

        // numcopies 1: dropping its own copy needs a lock on origin's, which A can only give through B.
        var drop = await client.GitAsync("annex", "drop", "file.bin");
        Assert.True(drop.ExitCode == 0, $"drop failed:\n{drop.Output}\n--- A\n{edgeA.Logs}\n--- B\n{edgeB.Logs}");
        Assert.True(await nodeB.HasKeyAsync(key), "the other site's copy is still there");
        await edgeB.RequestEventAsync("POST", "/lockcontent", 200);
        (await client.GitAsync("annex", "get", "-q", "file.bin")).EnsureSuccess("get it back through A");
        await ContentLock.AssertReleasedByDroppingAsync(nodeB, key);
    }

    [Fact]
    public async Task A_lock_is_kept_through_the_peer_that_granted_it_after_the_route_to_its_node_moves_to_another_peer()
    {
        await using var nodeA = await P2pNode.StartAsync("movea");
        await using var nodeB = await P2pNode.StartAsync("moveb");
        await using var nodeC = await P2pNode.StartAsync("movec");
        var (portA, portB, portC) = (FreePort.Next(), FreePort.Next(), FreePort.Next());
        await using var edgeC = await EdgeHost.StartAsync(Site(UuidC, nodeC, Peer("a", UuidA, portA, 10), Peer("b", UuidB, portB, 10)), $"http://127.0.0.1:{portC}");
        await using var edgeB = await EdgeHost.StartAsync(Site(UuidB, nodeB, Peer("a", UuidA, portA, 10), Peer("c", UuidC, portC, 10)), $"http://127.0.0.1:{portB}");
        // C's node from A: through B 10 + 10 + 100, directly 100 + 100.
        var siteA = Site(UuidA, nodeA, Peer("b", UuidB, portB, 10), Peer("c", UuidC, portC, 100));
        await using var edgeA = await EdgeHost.StartAsync(siteA, $"http://127.0.0.1:{portA}");
        await Eventually.Async(async () => await NextHopAsync(edgeA, nodeC.Uuid) == "b", Deadline, "A routes to C's node through b", () => edgeA.Logs);
        var (_, key) = await P2pHttp.PutRandomObjectAsync(P2pHttp.Api(nodeC.Url, nodeC.Uuid), 50_000);
        var api = P2pHttp.Api(edgeA.Url, nodeC.Uuid);

        var token = await P2pHttp.LockAsync(api, key);
        await AnsweredAsync(edgeB, "lockcontent");
        await ContentLock.AssertHeldAsync(nodeC, key);

        // Before the client's keeplocked comes, the direct link becomes the cheaper way (1 + 100 against 120).
        siteA["Peers"]![1]!["LinkCost"] = 1;
        await edgeA.RewriteConfigAsync(siteA);
        await Eventually.Async(async () => await NextHopAsync(edgeA, nodeC.Uuid) == "c", Deadline, "A routes to C's node directly", () => edgeA.Logs);

        // The keeplocked still goes through B, which holds the lock's own token, and so reaches the node that holds it.
        await using var session = KeepLockedSession.Open(api, token);
        Assert.False(session.Answered, "keeplocked answered while the client still holds the lock");
        var (status, body) = await session.UnlockAsync();
        Assert.True((status, body) == (200, "{\"locked\":false}"), $"{status} {body}\n--- A\n{edgeA.Logs}");
        await AnsweredAsync(edgeB, "keeplocked");
        await ContentLock.AssertReleasedByDroppingAsync(nodeC, key);
    }

    /// <summary>A request of this endpoint answered 200 at a site that routed it on to a peer (its path is the peer's).</summary>
    private static Task<Serilog.Events.LogEvent> AnsweredAsync(EdgeHost edge, string endpoint, int? status = 200) =>
        edge.Events.FirstAsync(
            e => e.IsRequest() && e.Text(RequestLogProperties.Endpoint) == endpoint && (status is null || e.Number("StatusCode") == status),
            null,
            $"{endpoint} answered {status}");

    private static async Task<(int Status, string Body)> KeepLockedAgainAsync(string api, string token)
    {
        await using var session = KeepLockedSession.Open(api, token);
        return await session.UnlockAsync();
    }
}
