using System.Text;
using AnnexEdge.Protocol;

namespace AnnexEdge.Tests.Protocol;

public sealed class P2pAnswerTests
{
    private static P2pAnswer? Parse(string json) => P2pAnswer.Parse(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void A_well_formed_answer_is_read()
    {
        var answer = Parse("""{"plusuuids":["u1","u2"],"stored":true,"offset":42}""");

        Assert.NotNull(answer);
        Assert.True(answer.Bool("stored"));
        Assert.Equal(42, answer.Number("offset"));
        Assert.Equal(["u1", "u2"], answer.PlusUuids());
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("{")]
    [InlineData("""{"stored":tr""")]
    [InlineData("""{"stored":true""")]
    [InlineData("true")]
    [InlineData("[{\"stored\":true}]")]
    [InlineData("\"stored\"")]
    [InlineData("null")]
    [InlineData("<html>502 Bad Gateway</html>")]
    public void Garbled_truncated_or_non_object_answers_are_no_answer(string json)
    {
        Assert.Null(Parse(json));
    }

    [Theory]
    [InlineData("""{"stored":true}{"stored":false}""")]
    [InlineData("""{"stored":true} trailing""")]
    public void An_answer_with_anything_after_the_object_is_no_answer(string json)
    {
        Assert.Null(Parse(json));
    }

    [Theory]
    [InlineData("""{"stored":"true"}""")]
    [InlineData("""{"stored":1}""")]
    [InlineData("""{"stored":null}""")]
    [InlineData("""{"stored":{}}""")]
    [InlineData("""{"Stored":true}""")]
    [InlineData("""{}""")]
    public void A_field_of_the_wrong_type_or_name_is_not_a_boolean(string json)
    {
        var answer = Parse(json);

        Assert.NotNull(answer);
        Assert.Null(answer.Bool("stored"));
    }

    [Theory]
    [InlineData("""{"offset":"42"}""")]
    [InlineData("""{"offset":42.5}""")]
    [InlineData("""{"offset":1e400}""")]
    [InlineData("""{"offset":99999999999999999999}""")]
    [InlineData("""{"offset":true}""")]
    [InlineData("""{"offset":null}""")]
    public void A_field_that_is_not_a_64_bit_integer_is_not_an_integer(string json)
    {
        var answer = Parse(json);

        Assert.NotNull(answer);
        Assert.Null(answer.Number("offset"));
    }

    [Fact]
    public void A_negative_integer_is_still_read_so_callers_can_reject_it()
    {
        Assert.Equal(-1, Parse("""{"offset":-1}""")!.Number("offset"));
    }

    [Theory]
    [InlineData("""{"stored":true}""")]
    [InlineData("""{"plusuuids":null,"stored":true}""")]
    [InlineData("""{"plusuuids":"u1","stored":true}""")]
    [InlineData("""{"plusuuids":{"0":"u1"},"stored":true}""")]
    public void Plusuuids_that_are_missing_or_not_an_array_are_empty(string json)
    {
        Assert.Empty(Parse(json)!.PlusUuids());
    }

    [Fact]
    public void Plusuuids_entries_that_are_not_strings_are_left_out()
    {
        Assert.Equal(["u1", "u2"], Parse("""{"plusuuids":["u1",2,null,{"u":"x"},"u2",true]}""")!.PlusUuids());
    }
}
