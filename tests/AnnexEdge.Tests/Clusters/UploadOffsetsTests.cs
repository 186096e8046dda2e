using AnnexEdge.Clusters;
using AnnexEdge.Routing;
using Microsoft.Extensions.Time.Testing;

namespace AnnexEdge.Tests.Clusters;

public sealed class UploadOffsetsTests
{
    private static readonly Repository Node1 = new("node1", "uuid-1", [], "PowerOfTwoChoices");
    private static readonly Repository Node2 = new("node2", "uuid-2", [], "PowerOfTwoChoices");

    [Fact]
    public void A_put_takes_what_its_clients_putoffset_found_once()
    {
        var offsets = new UploadOffsets(new FakeTimeProvider());
        offsets.Remember("cluster", "KEY", "client", [new(Node1, true, 0), new(Node2, false, 42)]);

        Assert.Equal([new NodeOffset(Node1, true, 0), new NodeOffset(Node2, false, 42)], offsets.Take("cluster", "KEY", "client"));
        Assert.Null(offsets.Take("cluster", "KEY", "client"));
    }

    [Fact]
    public void Another_client_key_or_cluster_finds_nothing()
    {
        var offsets = new UploadOffsets(new FakeTimeProvider());
        offsets.Remember("cluster", "KEY", "client", [new(Node1, false, 0)]);

        Assert.Null(offsets.Take("cluster", "KEY", "other-client"));
        Assert.Null(offsets.Take("cluster", "OTHER", "client"));
        Assert.Null(offsets.Take("other-cluster", "KEY", "client"));
    }

    [Fact]
    public void A_state_older_than_its_lifetime_is_not_used()
    {
        var time = new FakeTimeProvider();
        var offsets = new UploadOffsets(time);
        offsets.Remember("cluster", "KEY", "client", [new(Node1, false, 7)]);

        time.Advance(UploadOffsets.Lifetime + TimeSpan.FromSeconds(1));

        Assert.Null(offsets.Take("cluster", "KEY", "client"));
    }

    [Fact]
    public void Clients_that_never_put_cannot_grow_it_past_its_bound_and_expired_states_make_room()
    {
        var time = new FakeTimeProvider();
        var offsets = new UploadOffsets(time);
        for (var i = 0; i < UploadOffsets.MaxEntries + 100; i++)
        {
            offsets.Remember("cluster", "KEY" + i, "client", [new(Node1, false, 0)]);
        }

        Assert.Equal(UploadOffsets.MaxEntries, offsets.Count);

        time.Advance(UploadOffsets.Lifetime + TimeSpan.FromSeconds(1));
        offsets.Remember("cluster", "NEW", "client", [new(Node1, false, 3)]);

        Assert.Equal(1, offsets.Count);
        Assert.Equal([new NodeOffset(Node1, false, 3)], offsets.Take("cluster", "NEW", "client"));
    }
}

public sealed class NodePutsTests
{
    [Fact]
    public async Task A_second_put_of_a_key_to_a_node_waits_for_the_first_one_to_end()
    {
        var puts = new NodePuts();
        var first = puts.TryClaim("node", "KEY", out _);
        Assert.NotNull(first);

        Assert.Null(puts.TryClaim("node", "KEY", out var running));
        var second = puts.ClaimAsync("node", "KEY", TestContext.Current.CancellationToken);
        Assert.False(running.IsCompleted);
        Assert.False(second.IsCompleted);

        first.Dispose();

        await running;
        using var claimed = await second;
        Assert.Equal(1, puts.InFlight);
    }

    [Fact]
    public void Other_nodes_and_keys_are_claimed_independently_and_a_key_can_be_put_again_after_its_put_ended()
    {
        var puts = new NodePuts();
        var claim = puts.TryClaim("node", "KEY", out _);

        Assert.NotNull(puts.TryClaim("other-node", "KEY", out _));
        Assert.NotNull(puts.TryClaim("node", "OTHER", out _));

        claim!.Dispose();
        claim.Dispose(); // a second end changes nothing
        Assert.NotNull(puts.TryClaim("node", "KEY", out _));
    }
}
