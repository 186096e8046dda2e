using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;

namespace AnnexEdge.IntegrationTests.Locking;

/// <summary>
/// Locks pin p2phttp workers (two per lock, measured on git-annex 10.20250416: with --jobs 4 a second held lock
/// leaves the node answering nothing). The edge's lock budget keeps its backends serving whatever clients do.
/// </summary>
public sealed class LockBudgetTests
{
    [Fact]
    public async Task Ten_unreleased_locks_through_the_edge_leave_the_node_serving_while_the_same_straight_to_a_node_wedge_it()
    {
        await using var node = await P2pNode.StartAsync("budget", jobs: 4);
        await using var edge = await EdgeHost.StartAsync(node);
        var api = P2pHttp.Api(edge.Url, node.Uuid);
        var keys = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            keys.Add((await P2pHttp.PutRandomObjectAsync(api, 100)).Key);
        }

        var granted = 0;
        foreach (var key in keys)
        {
            var answer = await P2pHttp.PostJsonAsync(P2pHttp.Url(api, "lockcontent", key));
            granted += answer.GetProperty("locked").GetBoolean() ? 1 : 0;
        }

        // Default budget for --jobs 4 is one lock; every other lockcontent was answered by the edge itself.
        Assert.Equal(1, granted);

        var started = DateTime.UtcNow;
        var present = await P2pHttp.PostJsonAsync(P2pHttp.Url(api, "checkpresent", keys[0]), TimeSpan.FromSeconds(5));
        Assert.True(present.GetProperty("present").GetBoolean());
        var (bigData, bigKey) = await P2pHttp.PutRandomObjectAsync(api, 10 * 1024 * 1024);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10), "checkpresent and put answered promptly");

        // A wedged node would answer no GET at all; one that stalls its first answer after the put is p2phttp's own
        // quirk (GetContentAsync asks again), which has nothing to do with locks.
        var got = await P2pHttp.GetContentAsync($"{api}/v4/key/{bigKey}?clientuuid={P2pHttp.ClientUuid}", TestContext.Current.CancellationToken);
        Assert.Equal(bigData, got);

        // The same requests straight to a node of the same kind wedge it.
        await using var bare = await P2pNode.StartAsync("bare", jobs: 4);
        var bareApi = P2pHttp.Api(bare.Url, bare.Uuid);
        var bareKeys = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            bareKeys.Add((await P2pHttp.PutRandomObjectAsync(bareApi, 100)).Key);
        }

        foreach (var key in bareKeys)
        {
            try
            {
                await P2pHttp.PostJsonAsync(P2pHttp.Url(bareApi, "lockcontent", key), TimeSpan.FromSeconds(2));
            }
            catch (OperationCanceledException)
            {
                // Already wedged: this lockcontent gets no answer either.
            }
        }

        Assert.False(await P2pHttp.AnswersAsync(bareApi, TimeSpan.FromSeconds(3)), "a node sent the locks directly stops answering");
        Assert.True(await P2pHttp.AnswersAsync(api, TimeSpan.FromSeconds(3)), "the node behind the edge still answers");
    }

    [Fact]
    public async Task Client_hanging_up_mid_keeplocked_releases_the_backend_lock_at_once()
    {
        await using var node = await P2pNode.StartAsync("hangup", jobs: 4);
        await using var edge = await EdgeHost.StartAsync(node);
        var api = P2pHttp.Api(edge.Url, node.Uuid);
        var nodeApi = P2pHttp.Api(node.Url, node.Uuid);
        var (_, key) = await P2pHttp.PutRandomObjectAsync(api, 100);
        var (_, otherKey) = await P2pHttp.PutRandomObjectAsync(api, 100);

        var lockId = await P2pHttp.LockAsync(api, key);
        using (await MisbehavingKeepLockedClient.OpenAsync(api, lockId))
        {
            // The edge has relayed the keeplocked to the node (it is the backend's one request in flight).
            await Eventually.Async(
                async () => await BackendInFlightAsync(edge) == 1, TimeSpan.FromSeconds(10), "the keeplocked is relayed to the node");
            Assert.False(
                (await P2pHttp.PostJsonAsync(P2pHttp.Url(api, "lockcontent", otherKey))).GetProperty("locked").GetBoolean(),
                "while the lock is kept, the node's one lock slot is taken");
        }

        // The client hung up: the edge told the node to unlock, so a lock taken straight at the node now is the
        // node's only one and the node keeps answering (two held locks wedge a --jobs 4 node). The node has let go
        // of the lock once the key can be dropped (dropkey reads the lock; it takes no p2phttp worker).
        await ContentLock.AssertReleasedByDroppingAsync(node, key);
        await P2pHttp.LockAsync(nodeApi, otherKey);
        Assert.True(await P2pHttp.AnswersAsync(nodeApi, TimeSpan.FromSeconds(3)), "the node still answers: the first lock was released");
    }

    [Fact]
    public async Task Keeplocked_body_that_is_not_unlock_messages_is_refused_and_the_lock_released()
    {
        await using var node = await P2pNode.StartAsync("garbage", jobs: 4);
        await using var edge = await EdgeHost.StartAsync(node);
        var api = P2pHttp.Api(edge.Url, node.Uuid);
        var (_, key) = await P2pHttp.PutRandomObjectAsync(api, 100);
        using var keep = await MisbehavingKeepLockedClient.OpenAsync(api, await P2pHttp.LockAsync(api, key));
        await keep.SendLineAsync("{\"unlock\": \"maybe\"}");
        var answer = await keep.ReadAnswerAsync();
        Assert.StartsWith("HTTP/1.1 400", answer, StringComparison.Ordinal);

        // The slot is free again: the next lock is granted.
        await P2pHttp.LockAsync(api, key);
    }

    [Fact]
    public async Task Real_client_drop_needing_a_lock_works_while_another_client_is_over_its_quota()
    {
        await using var node = await P2pNode.StartAsync("quota", jobs: 8);
        var config = EdgeHost.ConfigFor(node);
        config["Locking"]!["MaxLocksPerClient"] = 1;
        config["Locking"]!["MaxShareOfSlots"] = 1.0;
        await using var edge = await EdgeHost.StartAsync(config);
        await using var client = await AnnexClient.CloneAsync(node, edge.AnnexUrl);
        var fileKey = await client.AddRandomFileAsync("f.bin", 5000);
        (await client.GitAsync("annex", "copy", "--to", "origin", "f.bin")).EnsureSuccess("copy --to origin");

        // Another client (another address: the clientuuid it sends names no client) takes its one lock and is then
        // over its quota.
        using var greedy = LockClients.From("127.0.0.2");
        var api = P2pHttp.Api(edge.Url, node.Uuid);
        var (_, k1) = await P2pHttp.PutRandomObjectAsync(api, 100);
        var (_, k2) = await P2pHttp.PutRandomObjectAsync(api, 100);
        Assert.NotNull(await LockClients.LockAsync(greedy, api, k1));
        Assert.Null(await LockClients.LockAsync(greedy, api, k2, Guid.NewGuid().ToString()));
        await edge.EventAsync(EdgeEventIds.LockRefusedQuota, e => e.Text("Client") == "addr:127.0.0.2");

        (await client.GitAsync("annex", "drop", "f.bin")).EnsureSuccess("drop (locks origin through the edge)");
        Assert.True(await node.HasKeyAsync(fileKey));
    }

    /// <summary>Requests the edge has in flight to the first backend of its first repository (from its status).</summary>
    private static async Task<int> BackendInFlightAsync(EdgeHost edge)
    {
        var status = await edge.StatusAsync();
        return (int)status["repositories"]![0]!["backends"]![0]!["inFlight"]!;
    }
}
