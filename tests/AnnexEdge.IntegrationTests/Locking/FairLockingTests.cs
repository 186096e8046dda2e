using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;

namespace AnnexEdge.IntegrationTests.Locking;

/// <summary>
/// A backend's few lock slots (each lock pins two p2phttp workers) are shared between clients as the edge knows
/// them, by user or else by address: a client that sends each lockcontent with a fresh clientuuid is still one
/// client, holds at most its share of a backend, and never the slots reserved for users.
/// </summary>
public sealed class FairLockingTests
{
    [Fact]
    public async Task Anonymous_locks_with_fresh_clientuuids_from_one_address_leave_the_default_budget_to_a_user()
    {
        // --jobs 4: one lock slot, which the default Locking:ReservedForUsers keeps for users once there are any.
        await using var node = await P2pNode.StartAsync("starve", jobs: 4);
        await using var edge = await EdgeHost.StartAsync(LockClients.ConfigWithUser(node));
        var api = P2pHttp.Api(edge.Url, node.Uuid);
        var keys = await LockClients.StoreKeysAsync(node, 6);
        using var anonymous = LockClients.From("127.0.0.1");
        using var user = LockClients.AsUser();

        for (var i = 0; i < 5; i++)
        {
            Assert.Null(await LockClients.LockAsync(anonymous, api, keys[i], Guid.NewGuid().ToString()));
        }

        await edge.EventAsync(EdgeEventIds.LockRefusedReserved, e => e.Text("Client") == "addr:127.0.0.1");
        Assert.NotNull(await LockClients.LockAsync(user, api, keys[5]));

        // The operator was told at start-up.
        await edge.EventAsync(EdgeEventIds.LockSlotsAllReserved, e => e.Text("Repository") == node.Name);
        Assert.True(await P2pHttp.AnswersAsync(P2pHttp.Api(node.Url, node.Uuid), TimeSpan.FromSeconds(5)), "the node still answers");
    }

    [Fact]
    public async Task One_address_holds_its_share_whatever_its_clientuuids_other_addresses_theirs_and_a_user_the_reserved_slot()
    {
        // --jobs 8: three slots; one reserved for users, at most one (half of three, rounded down) per client.
        await using var node = await P2pNode.StartAsync("share", jobs: 8);
        await using var edge = await EdgeHost.StartAsync(LockClients.ConfigWithUser(node));
        var api = P2pHttp.Api(edge.Url, node.Uuid);
        var keys = await LockClients.StoreKeysAsync(node, 14);
        using var greedy = LockClients.From("127.0.0.1");
        using var second = LockClients.From("127.0.0.2");
        using var third = LockClients.From("127.0.0.3");
        using var user = LockClients.AsUser();

        var granted = 0;
        for (var i = 0; i < 10; i++)
        {
            granted += await LockClients.LockAsync(greedy, api, keys[i], Guid.NewGuid().ToString()) is null ? 0 : 1;
        }

        Assert.Equal(1, granted);
        await edge.EventAsync(EdgeEventIds.LockRefusedShare, e => e.Text("Client") == "addr:127.0.0.1");

        Assert.NotNull(await LockClients.LockAsync(second, api, keys[10]));
        Assert.Null(await LockClients.LockAsync(third, api, keys[11]));
        await edge.EventAsync(EdgeEventIds.LockRefusedReserved, e => e.Text("Client") == "addr:127.0.0.3");
        Assert.NotNull(await LockClients.LockAsync(user, api, keys[12]));

        // All three slots are held now: the node still serves (two workers left), and the budget holds.
        Assert.Null(await LockClients.LockAsync(user, api, keys[13]));
        await edge.EventAsync(EdgeEventIds.LockRefusedBudget);
        Assert.DoesNotContain(edge.Events.All, e => e.EventId() == EdgeEventIds.LockSlotsAllReserved);
        Assert.True(await P2pHttp.AnswersAsync(P2pHttp.Api(node.Url, node.Uuid), TimeSpan.FromSeconds(5)), "the node still answers");
    }

    [Fact]
    public async Task A_client_that_unlocks_then_locks_again_at_once_gets_the_slot_it_gave_back_every_time()
    {
        // git-annex drops key after key: unlock one (keeplocked answered), lock the next at once. With one lock per
        // client the slot must be free when the unlock is answered, not a moment later.
        await using var node = await P2pNode.StartAsync("relock", jobs: 8);
        var config = EdgeHost.ConfigFor(node);
        config["Locking"]!["MaxLocksPerClient"] = 1;
        await using var edge = await EdgeHost.StartAsync(config);
        var api = P2pHttp.Api(edge.Url, node.Uuid);
        // Key after key, as git-annex does: p2phttp itself may refuse a key locked again at once after its own unlock
        // (docs/locking.md), which is not what this test is about.
        var keys = await LockClients.StoreKeysAsync(node, 4);
        using var client = LockClients.From("127.0.0.1");

        for (var round = 0; round < 40; round++)
        {
            var lockId = await LockClients.LockAsync(client, api, keys[round % keys.Length]);
            Assert.True(lockId is not null, $"round {round}: lockcontent not granted right after the previous unlock was answered");
            var (status, body) = await LockClients.UnlockAsync(client, api, lockId);
            Assert.True(status == 200, $"round {round}: unlock answered {status} {body}");
        }
    }
}
