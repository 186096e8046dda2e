using AnnexEdge.Protocol;

namespace AnnexEdge.Tests.Protocol;

/// <summary>Keys as git-annex's strict key parser takes them (each case checked against a real p2phttp node).</summary>
public sealed class AnnexKeyTests
{
    [Theory]
    [InlineData("SHA256E-s6--5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03.txt")]
    [InlineData("SHA256E-s6--x")]
    [InlineData("WORM--")]
    [InlineData("WORM---")]
    [InlineData("a--x")]
    [InlineData("WORM-s6-m7-S8-C9--x")]
    [InlineData("WORM-m7--x")]
    [InlineData("WORM-S8-C9--x")]
    [InlineData("WORM-C9--x")]
    [InlineData("WORM-s6--")]
    [InlineData("WORM--a-b--c")]
    [InlineData("W RM--x")]
    [InlineData("WORM-s6--x/y")]
    [InlineData("URL--http://example.com/a?b=c")]
    [InlineData("WORM-s99999999999999999999999--x")]
    public void Key_of_the_grammar_is_valid(string key)
    {
        Assert.True(AnnexKey.IsValid(key));
    }

    [Theory]
    [InlineData("")]
    [InlineData("-")]
    [InlineData("--x")]
    [InlineData("-s6--x")]
    [InlineData("WORM")]
    [InlineData("WORM-")]
    [InlineData("WORM-s6")]
    [InlineData("WORM-s6-")]
    [InlineData("WORM-s--x")]
    [InlineData("WORM-s-1--x")]
    [InlineData("WORM-s+1--x")]
    [InlineData("WORM-s6x--y")]
    [InlineData("WORM-x--y")]
    [InlineData("WORM-m7-s6--x")]
    [InlineData("WORM-C9-S8--x")]
    [InlineData("WORM-s6-s7--x")]
    [InlineData("WORM-s6-m--x")]
    [InlineData("WORM-s٣--x")]
    [InlineData("notakey")]
    public void Key_outside_the_grammar_is_invalid(string key)
    {
        Assert.False(AnnexKey.IsValid(key));
        Assert.False(AnnexKey.TryParse(key, out _));
    }

    [Theory]
    [InlineData("SHA256E-s6--x", 6L)]
    [InlineData("WORM-s0--x", 0L)]
    [InlineData("WORM-s007-m7--x", 7L)]
    [InlineData("WORM-s1048576-m1700000000-S65536-C3--x", 1048576L)]
    [InlineData("WORM-s9223372036854775807--x", long.MaxValue)]
    [InlineData("WORM-s99999999999999999999999--x", long.MaxValue)]
    public void Size_is_the_s_field(string key, long expected)
    {
        Assert.True(AnnexKey.TryParse(key, out var size));
        Assert.Equal(expected, size);
    }

    [Theory]
    [InlineData("WORM--x")]
    [InlineData("WORM-m7--x")]
    [InlineData("WORM-S8-C9--x")]
    [InlineData("WORM--s6")]
    [InlineData("WORM--x-s6--y")]
    public void Key_without_s_field_has_no_size(string key)
    {
        Assert.True(AnnexKey.TryParse(key, out var size));
        Assert.Null(size);
    }
}
