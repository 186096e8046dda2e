using AnnexEdge.Protocol;

namespace AnnexEdge.Tests.Protocol;

public sealed class P2pQueryTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("?")]
    [InlineData("&&")]
    [InlineData("?&")]
    public void Empty_query_has_no_parameters(string? raw)
    {
        Assert.Empty(P2pQuery.Parse(raw).Parameters);
    }

    [Fact]
    public void Parameters_are_kept_in_order_with_repeats()
    {
        var query = P2pQuery.Parse("?a=1&b=2&a=3");
        Assert.Equal(
            [new("a", "1"), new("b", "2"), new("a", "3")],
            query.Parameters);
        Assert.Equal(["1", "3"], query.All("a"));
        Assert.Empty(query.All("c"));
    }

    [Fact]
    public void Leading_question_mark_is_optional()
    {
        Assert.Equal(P2pQuery.Parse("?a=1").Parameters, P2pQuery.Parse("a=1").Parameters);
    }

    [Fact]
    public void Parameter_without_equals_has_null_value_unlike_an_empty_one()
    {
        var query = P2pQuery.Parse("?flag&empty=");
        Assert.Null(query.First("flag", out var flagPresent));
        Assert.True(flagPresent);
        Assert.Equal("", query.First("empty", out var emptyPresent));
        Assert.True(emptyPresent);
    }

    [Fact]
    public void First_returns_the_first_value_and_tells_absence()
    {
        var query = P2pQuery.Parse("?k&k=2");
        Assert.Null(query.First("k", out var present));
        Assert.True(present);
        Assert.Null(query.First("missing", out var missing));
        Assert.False(missing);
        Assert.Equal([null, "2"], query.All("k"));
    }

    [Fact]
    public void Only_the_first_equals_splits_name_and_value()
    {
        Assert.Equal("[Yw==]", P2pQuery.Parse("?c=[Yw==]").First("c", out _));
    }

    [Fact]
    public void Names_and_values_are_percent_and_plus_decoded()
    {
        var query = P2pQuery.Parse("?a%20b=c+d%2Be&%5Bx%5D=%26%3D");
        Assert.Equal("c d+e", query.First("a b", out _));
        Assert.Equal("&=", query.First("[x]", out _));
    }

    [Fact]
    public void Names_are_case_sensitive()
    {
        var query = P2pQuery.Parse("?Key=1");
        query.First("key", out var present);
        Assert.False(present);
    }

    [Fact]
    public void Malformed_percent_escape_is_kept_as_written()
    {
        Assert.Equal("100%zz", P2pQuery.Parse("?v=100%zz").First("v", out _));
    }

    [Fact]
    public void Utf8_percent_escapes_are_decoded()
    {
        Assert.Equal("ü", P2pQuery.Parse("?f=%C3%BC").First("f", out _));
    }

    [Fact]
    public void Semicolons_separate_parameters_as_in_git_annex()
    {
        var query = P2pQuery.Parse("?x=1;key=A&key=B");

        Assert.Equal("A", query.First("key", out _));
        Assert.Equal(["A", "B"], query.All("key"));
    }
}
