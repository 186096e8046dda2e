using AnnexEdge.Routing;

namespace AnnexEdge.Tests.Routing;

public sealed class BackendTests
{
    [Fact]
    public void Id_is_deterministic()
    {
        Assert.Equal(Backend.For("node1", "http://127.0.0.1:9417"), Backend.For("node1", "http://127.0.0.1:9417"));
    }

    [Fact]
    public void Id_is_the_repository_name_and_twelve_hex_digits()
    {
        var backend = Backend.For("node1", "http://127.0.0.1:9417");
        Assert.Matches(@"^node1\.[0-9a-f]{12}\z", backend.Id);
    }

    [Fact]
    public void Id_does_not_show_the_address()
    {
        var backend = Backend.For("node1", "http://10.1.2.3:9417");
        Assert.DoesNotContain("10.1.2.3", backend.Id, StringComparison.Ordinal);
        Assert.DoesNotContain("9417", backend.Id, StringComparison.Ordinal);
    }

    [Fact]
    public void Id_differs_per_url()
    {
        Assert.NotEqual(Backend.For("node1", "http://127.0.0.1:9417").Id, Backend.For("node1", "http://127.0.0.1:9418").Id);
        Assert.NotEqual(Backend.For("node1", "http://127.0.0.1:9417").Id, Backend.For("node1", "https://127.0.0.1:9417").Id);
    }

    [Fact]
    public void Id_differs_per_repository_for_the_same_url()
    {
        var first = Backend.For("node1", "http://127.0.0.1:9417");
        var second = Backend.For("node2", "http://127.0.0.1:9417");
        Assert.NotEqual(first.Id, second.Id);
        Assert.NotEqual(first.Id[(first.Id.IndexOf('.', StringComparison.Ordinal) + 1)..], second.Id[(second.Id.IndexOf('.', StringComparison.Ordinal) + 1)..]);
    }

    [Fact]
    public void Name_and_url_cannot_be_shifted_into_each_other()
    {
        Assert.NotEqual(Backend.For("a", "bhttp://h:1").Id[2..], Backend.For("ab", "http://h:1").Id[3..]);
    }

    [Theory]
    [InlineData("http://127.0.0.1:9417/")]
    [InlineData("http://127.0.0.1:9417//")]
    public void Trailing_slash_does_not_change_the_backend(string url)
    {
        var plain = Backend.For("node1", "http://127.0.0.1:9417");
        var slashed = Backend.For("node1", url);
        Assert.Equal(plain, slashed);
        Assert.Equal("http://127.0.0.1:9417", slashed.Address);
    }

    [Fact]
    public void Address_keeps_a_base_path_without_trailing_slash()
    {
        Assert.Equal("http://h:1/annex", Backend.For("r", "http://h:1/annex/").Address);
    }

    [Fact]
    public void Known_id_is_stable_across_releases()
    {
        // Lock tokens carry this id: it must not change between versions or between edge processes.
        Assert.Equal("node1.", Backend.For("node1", "http://127.0.0.1:9417").Id[..6]);
        Assert.Equal(
            Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("node1\nhttp://127.0.0.1:9417"u8))[..12],
            Backend.For("node1", "http://127.0.0.1:9417/").Id[6..]);
    }
}
