using AnnexEdge.Clusters;
using AnnexEdge.Routing;
using Microsoft.Extensions.Logging.Abstractions;
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
    private static readonly Repository Node = NodeWith("node", jobs: 4);

    private static Repository NodeWith(string name, int jobs, int backends = 1) => new(
        name,
        "uuid-" + name,
        Enumerable.Range(1, backends).Select(b => Backend.For(name, $"http://127.0.0.1:{9000 + b}")).ToArray(),
        "PowerOfTwoChoices",
        Jobs: jobs);

    private static NodePuts NewPuts() => new(NullLogger<NodePuts>.Instance);

    [Fact]
    public async Task A_second_put_of_a_key_to_a_node_waits_for_the_first_one_to_end()
    {
        var puts = NewPuts();
        var first = puts.TryClaim(Node, "KEY", out _);
        Assert.NotNull(first);

        Assert.Null(puts.TryClaim(Node, "KEY", out var running));
        var second = puts.ClaimAsync(Node, "KEY", TestContext.Current.CancellationToken);
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
        var puts = NewPuts();
        var claim = puts.TryClaim(Node, "KEY", out _);

        Assert.NotNull(puts.TryClaim(NodeWith("other-node", jobs: 4), "KEY", out _));
        Assert.NotNull(puts.TryClaim(Node, "OTHER", out _));

        claim!.Dispose();
        claim.Dispose(); // a second end changes nothing
        Assert.NotNull(puts.TryClaim(Node, "KEY", out _));
    }

    [Fact]
    public async Task A_node_gets_at_most_its_jobs_puts_at_once_and_the_next_starts_when_one_ends()
    {
        var ct = TestContext.Current.CancellationToken;
        var puts = NewPuts();
        var node = NodeWith("small", jobs: 2);
        using var first = await puts.ClaimAsync(node, "K1", ct);
        var second = await puts.ClaimAsync(node, "K2", ct);

        var third = puts.ClaimAsync(node, "K3", ct);
        Assert.False(third.IsCompleted);

        // Another node's slots are its own.
        using var elsewhere = await puts.ClaimAsync(NodeWith("other", jobs: 2), "K3", ct);

        second.Dispose();
        second.Dispose(); // frees one slot, not two
        using var claimed = await third.WaitAsync(TimeSpan.FromSeconds(10), ct);
        Assert.False(puts.ClaimAsync(node, "K4", ct).IsCompleted);
    }

    [Fact]
    public void A_node_with_several_backends_gets_its_jobs_for_each()
    {
        Assert.Equal(4, NodePuts.SlotsOf(NodeWith("one", jobs: 4)));
        Assert.Equal(24, NodePuts.SlotsOf(NodeWith("three", jobs: 8, backends: 3)));
    }

    [Fact]
    public async Task A_put_given_up_while_waiting_for_a_slot_frees_its_claim_of_the_key()
    {
        var ct = TestContext.Current.CancellationToken;
        var puts = NewPuts();
        var node = NodeWith("single", jobs: 2);
        using var a = await puts.ClaimAsync(node, "A", ct);
        using var b = await puts.ClaimAsync(node, "B", ct);
        using var cancel = new CancellationTokenSource();

        var waiting = puts.ClaimAsync(node, "C", cancel.Token);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(2, puts.InFlight);

        // The slot the cancelled put waited for goes to the next one, not to nobody.
        var next = puts.ClaimAsync(node, "D", ct);
        a.Dispose();
        using var d = await next.WaitAsync(TimeSpan.FromSeconds(10), ct);
    }

    [Fact]
    public async Task A_reload_that_changes_a_nodes_jobs_changes_how_many_puts_it_gets_at_once()
    {
        var ct = TestContext.Current.CancellationToken;
        var puts = NewPuts();
        using var a = await puts.ClaimAsync(NodeWith("reloaded", jobs: 1), "A", ct);
        var waiting = puts.ClaimAsync(NodeWith("reloaded", jobs: 1), "B", ct);
        Assert.False(waiting.IsCompleted);

        // Jobs raised to 3: the put already waiting and one more start now, a fourth waits.
        using var c = await puts.ClaimAsync(NodeWith("reloaded", jobs: 3), "C", ct).WaitAsync(TimeSpan.FromSeconds(10), ct);
        using var b = await waiting.WaitAsync(TimeSpan.FromSeconds(10), ct);
        var fourth = puts.ClaimAsync(NodeWith("reloaded", jobs: 3), "D", ct);
        Assert.False(fourth.IsCompleted);

        // Lowered to 1: ending two of the three puts frees no place; ending the third does.
        var fifth = puts.ClaimAsync(NodeWith("reloaded", jobs: 1), "E", ct);
        a.Dispose();
        c.Dispose();
        Assert.False(fourth.IsCompleted);
        b.Dispose();
        using var d = await fourth.WaitAsync(TimeSpan.FromSeconds(10), ct);
        Assert.False(fifth.IsCompleted);
    }

    [Theory]
    [InlineData("SHA256E-s1048576--abc", true)]
    [InlineData("SHA256E-s1048577--abc", false)]
    [InlineData("WORM-s0-m1--name", true)]
    [InlineData("URL--http&c%%example.org", false)]
    public void Keys_up_to_one_MiB_are_small_and_a_key_without_a_size_is_not(string key, bool small) =>
        Assert.Equal(small, NodePuts.IsSmall(key));
}
