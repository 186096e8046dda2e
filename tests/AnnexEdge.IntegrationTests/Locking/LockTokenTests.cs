using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Locking;
using AnnexEdge.Logging;
using AnnexEdge.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace AnnexEdge.IntegrationTests.Locking;

/// <summary>
/// A lock token opens one keeplocked relay, for the client it was granted to, within the lock's lifetime, and only
/// while the edge still holds the lock: a token seen once is not a key to the backend's workers.
/// </summary>
public sealed class LockTokenTests
{
    [Fact]
    public async Task A_token_opens_one_keeplocked_at_a_time_and_none_after_it_ended()
    {
        await using var node = await P2pNode.StartAsync("reuse", jobs: 8);
        await using var edge = await EdgeHost.StartAsync(node);
        var api = P2pHttp.Api(edge.Url, node.Uuid);
        var key = (await LockClients.StoreKeysAsync(node, 1))[0];
        var token = await P2pHttp.LockAsync(api, key);

        await using (var session = KeepLockedSession.Open(api, token))
        {
            await Eventually.Async(
                async () => await BackendInFlightAsync(edge) == 1, TimeSpan.FromSeconds(10), "the keeplocked is relayed to the node");

            // A second keeplocked with the same token, asking to unlock: relayed, it would release the first's lock.
            var (status, body) = await LockClients.UnlockAsync(P2pHttp.Http, api, token);
            Assert.True(status == 400, $"a second concurrent keeplocked answered {status} {body}");
            await edge.EventAsync(EdgeEventIds.LockTokenAlreadyRelayed);
            await ContentLock.AssertHeldAsync(node, key);
            Assert.False(session.Answered);
            Assert.Equal((200, "{\"locked\":false}"), await session.UnlockAsync());
        }

        await ContentLock.AssertReleasedByDroppingAsync(node, key);
        var before = edge.Events.All.Count(e => e.EventId() == EdgeEventIds.LockTokenAlreadyRelayed);
        var (again, againBody) = await LockClients.UnlockAsync(P2pHttp.Http, api, token);
        Assert.True(again == 400, $"keeplocked with a token whose relay ended answered {again} {againBody}");
        await Eventually.Async(
            () => edge.Events.All.Count(e => e.EventId() == EdgeEventIds.LockTokenAlreadyRelayed) > before,
            TimeSpan.FromSeconds(10),
            "the reuse is logged");
        Assert.Equal(0, await BackendInFlightAsync(edge));
    }

    [Fact]
    public async Task A_token_past_the_lock_lifetime_is_refused()
    {
        await using var node = await P2pNode.StartAsync("expiry", jobs: 8);
        var config = EdgeHost.ConfigFor(node);
        config["Locking"]!["LockLifetime"] = "00:00:03";
        await using var edge = await EdgeHost.StartAsync(config);
        var api = P2pHttp.Api(edge.Url, node.Uuid);
        var key = (await LockClients.StoreKeysAsync(node, 1))[0];
        var token = await P2pHttp.LockAsync(api, key);

        // The ledger lets the slot go when the lifetime is over: the token's lifetime ends at the same moment.
        var ledger = edge.Services.GetRequiredService<LockLedger>();
        var backendId = Backend.For(node.Name, node.Url).Id;
        Assert.Equal(1, ledger.HeldBy(backendId));
        await Eventually.Async(() => ledger.HeldBy(backendId) == 0, TimeSpan.FromSeconds(15), "the lock's slot expires");

        // The node itself holds the lock for its own ten minutes: an unlock relayed now would release it.
        var (status, body) = await LockClients.UnlockAsync(P2pHttp.Http, api, token);
        Assert.True(status == 400, $"keeplocked with an expired token answered {status} {body}");
        await edge.EventAsync(EdgeEventIds.LockTokenExpired);
        await ContentLock.AssertHeldAsync(node, key);
    }

    [Fact]
    public async Task A_token_is_refused_to_another_client_and_stays_good_for_its_own()
    {
        await using var node = await P2pNode.StartAsync("principal", jobs: 8);
        await using var edge = await EdgeHost.StartAsync(node);
        var api = P2pHttp.Api(edge.Url, node.Uuid);
        var key = (await LockClients.StoreKeysAsync(node, 1))[0];
        using var owner = LockClients.From("127.0.0.1");
        using var other = LockClients.From("127.0.0.2");
        var token = await LockClients.LockAsync(owner, api, key);
        Assert.NotNull(token);

        var (status, body) = await LockClients.UnlockAsync(other, api, token);
        Assert.True(status == 400, $"keeplocked from another address answered {status} {body}");
        await edge.EventAsync(EdgeEventIds.LockTokenOtherPrincipal, e => e.Text("Client") == "addr:127.0.0.2");
        await ContentLock.AssertHeldAsync(node, key);

        Assert.Equal((200, "{\"locked\":false}"), await LockClients.UnlockAsync(owner, api, token));
        await ContentLock.AssertReleasedByDroppingAsync(node, key);
    }

    /// <summary>Requests the edge has in flight to the first backend of its first repository (from its status).</summary>
    private static async Task<int> BackendInFlightAsync(EdgeHost edge)
    {
        var status = await edge.StatusAsync();
        return (int)status["repositories"]![0]!["backends"]![0]!["inFlight"]!;
    }
}
