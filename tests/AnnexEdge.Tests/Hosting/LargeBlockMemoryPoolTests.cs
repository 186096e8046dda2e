using AnnexEdge.Hosting;

namespace AnnexEdge.Tests.Hosting;

public sealed class LargeBlockMemoryPoolTests
{
    [Fact]
    public void Blocks_are_64_KiB_up_to_the_lending_limit_then_4_KiB_until_large_ones_come_back()
    {
        var factory = new LargeBlockMemoryPoolFactory(maxLent: 2);
        using var pool = factory.Create();

        var first = pool.Rent(4096);
        using var second = pool.Rent(4096);
        using var over = pool.Rent(4096);
        using var overAskingMore = pool.Rent(8192);
        first.Dispose();
        using var again = pool.Rent(4096);

        Assert.Equal(LargeBlockMemoryPoolFactory.BlockSize, second.Memory.Length);
        Assert.Equal(LargeBlockMemoryPoolFactory.SmallBlockSize, over.Memory.Length);
        Assert.True(overAskingMore.Memory.Length >= 8192);
        Assert.Equal(LargeBlockMemoryPoolFactory.BlockSize, again.Memory.Length);
        Assert.Equal(2, factory.Lent);
    }

    [Fact]
    public void A_block_disposed_twice_is_returned_once()
    {
        var factory = new LargeBlockMemoryPoolFactory(maxLent: 2);
        using var pool = factory.Create();

        var block = pool.Rent(4096);
        block.Dispose();
        block.Dispose();

        Assert.Equal(0, factory.Lent);
    }

    [Fact]
    public void Every_rent_counts_large_and_small_and_a_return_takes_none_back()
    {
        var factory = new LargeBlockMemoryPoolFactory(maxLent: 1);
        using var pool = factory.Create();

        pool.Rent(4096).Dispose();
        using var large = pool.Rent(4096);
        using var small = pool.Rent(4096);

        Assert.Equal(LargeBlockMemoryPoolFactory.SmallBlockSize, small.Memory.Length);
        Assert.Equal(3, factory.Rented);
    }
}
