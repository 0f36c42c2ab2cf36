// Specification of the template language (core/template.h): how strings
// render, what each operator and filter does, how errors point at the column,
// and the limits that keep untrusted templates from hanging or exhausting memory.
#include "core/template.h"

#include <gtest/gtest.h>

#include <string>

namespace cadre {
namespace {

Json scope() {
  return Json::parse(R"({
    "input": {
      "name": "Ada",
      "count": 3,
      "ratio": 0.5,
      "items": [1, 2, 3],
      "empty": "",
      "none": null,
      "flag": true,
      "user": {"first": "Ada", "last": "Lovelace"},
      "padded": "  hi  ",
      "accent": "héllo",
      "with-dash": {"x": 1}
    },
    "steps": {"fetch": {"output": {"items": [{"name": "first"}, {"name": "second"}]}}},
    "item": "solo"
  })");
}

// Renders a single string against scope() and expects success.
Json render(const std::string& text) {
  Result<Json> result = render_template(Json(text), scope());
  EXPECT_TRUE(result.ok()) << text << ": " << result.status().to_string();
  return result.ok() ? *result : Json("<error>");
}

Json eval(std::string_view expression) {
  Result<Json> result = evaluate_expression(expression, scope());
  EXPECT_TRUE(result.ok()) << expression << ": " << result.status().to_string();
  return result.ok() ? *result : Json("<error>");
}

bool condition(std::string_view text) {
  Result<bool> result = evaluate_condition(text, scope());
  EXPECT_TRUE(result.ok()) << text << ": " << result.status().to_string();
  return result.ok() && *result;
}

// The error of rendering `text`, as "code: message".
std::string render_error(const Json& value) {
  Result<Json> result = render_template(value, scope());
  EXPECT_FALSE(result.ok()) << value.dump() << " rendered as "
                            << (result.ok() ? result->dump() : "");
  return result.ok() ? "" : result.status().to_string();
}

std::string eval_error(std::string_view expression) {
  Result<Json> result = evaluate_expression(expression, scope());
  EXPECT_FALSE(result.ok()) << expression << " gave " << (result.ok() ? result->dump() : "");
  return result.ok() ? "" : result.status().to_string();
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// --- Rendering -------------------------------------------------------------

TEST(RenderTemplate, SingleExpressionKeepsItsType) {
  EXPECT_EQ(render("{{ input.items }}"), Json::parse("[1, 2, 3]"));
  EXPECT_EQ(render("{{ input.count }}"), Json(3));
  EXPECT_TRUE(render("{{ input.count }}").is_number_integer());
  EXPECT_EQ(render("{{ input.ratio }}"), Json(0.5));
  EXPECT_EQ(render("{{ input.flag }}"), Json(true));
  EXPECT_EQ(render("{{ input.none }}"), Json(nullptr));
  EXPECT_EQ(render("{{ input.user }}"), Json::parse(R"({"first": "Ada", "last": "Lovelace"})"));
  EXPECT_EQ(render("{{input.count}}"), Json(3));
}

TEST(RenderTemplate, SurroundingWhitespaceStillKeepsTheType) {
  EXPECT_EQ(render("  {{ input.items }} \n"), Json::parse("[1, 2, 3]"));
}

TEST(RenderTemplate, InterpolationTurnsValuesIntoText) {
  EXPECT_EQ(render("Hello {{ input.name }}!"), Json("Hello Ada!"));
  EXPECT_EQ(render("n={{ input.count }}"), Json("n=3"));
  EXPECT_EQ(render("r={{ input.ratio }}"), Json("r=0.5"));
  EXPECT_EQ(render("flag={{ input.flag }}"), Json("flag=true"));
  EXPECT_EQ(render("[{{ input.none }}]"), Json("[]"));
  EXPECT_EQ(render("items={{ input.items }}"), Json("items=[1,2,3]"));
  EXPECT_EQ(render("user={{ input.user }}"), Json(R"(user={"first":"Ada","last":"Lovelace"})"));
  EXPECT_EQ(render("{{ input.name }}{{ input.count }}"), Json("Ada3"));
  EXPECT_EQ(render("{{ input.count }} "), Json(3));  // still one expression
  EXPECT_EQ(render("x {{ input.count }}"), Json("x 3"));
}

TEST(RenderTemplate, StringsWithoutBracesAndOtherValuesPassThrough) {
  EXPECT_EQ(render("plain text, a } and a { alone"), Json("plain text, a } and a { alone"));
  EXPECT_EQ(render("closing }} only"), Json("closing }} only"));
  EXPECT_EQ(*render_template(Json(42), scope()), Json(42));
  EXPECT_EQ(*render_template(Json(nullptr), scope()), Json(nullptr));
  EXPECT_EQ(*render_template(Json(false), scope()), Json(false));
}

TEST(RenderTemplate, ObjectsAndArraysRenderRecursively) {
  Json value = Json::parse(R"({
    "count": "{{ input.count }}",
    "list": ["hi {{ input.name }}", {"deep": "{{ input.items }}"}, 7],
    "k{{ input.name }}": "keys are not templates"
  })");
  Json expected = Json::parse(R"({
    "count": 3,
    "list": ["hi Ada", {"deep": [1, 2, 3]}, 7],
    "k{{ input.name }}": "keys are not templates"
  })");
  Result<Json> rendered = render_template(value, scope());
  ASSERT_TRUE(rendered.ok()) << rendered.status().to_string();
  EXPECT_EQ(*rendered, expected);
}

TEST(RenderTemplate, ClosingBracesInsideAStringLiteral) {
  EXPECT_EQ(render("{{ '}}' }}"), Json("}}"));
  EXPECT_EQ(render("a{{ \"{{\" }}b"), Json("a{{b"));
}

TEST(RenderTemplate, ScopeThatIsNotAnObjectMakesEveryPathNull) {
  Result<Json> rendered = render_template(Json("{{ input.x }}"), Json::array());
  ASSERT_TRUE(rendered.ok());
  EXPECT_EQ(*rendered, Json(nullptr));
}

// --- Paths -------------------------------------------------------------------

TEST(Paths, DotsIndexesAndQuotedKeys) {
  EXPECT_EQ(eval("input.name"), Json("Ada"));
  EXPECT_EQ(eval("input.user.last"), Json("Lovelace"));
  EXPECT_EQ(eval("input.items[0]"), Json(1));
  EXPECT_EQ(eval("input.items[-1]"), Json(3));  // negative counts from the end
  EXPECT_EQ(eval("steps.fetch.output.items[1].name"), Json("second"));
  EXPECT_EQ(eval("input[\"with-dash\"].x"), Json(1));
  EXPECT_EQ(eval("input['user']['first']"), Json("Ada"));
  EXPECT_EQ(eval("item"), Json("solo"));
  EXPECT_EQ(eval("input.user"), Json::parse(R"({"first": "Ada", "last": "Lovelace"})"));
}

TEST(Paths, KeywordsAreOrdinaryKeysAfterADot) {
  Json data = {{"input", {{"null", 1}, {"and", 2}}}};
  EXPECT_EQ(*evaluate_expression("input.null", data), Json(1));
  EXPECT_EQ(*evaluate_expression("input.and", data), Json(2));
}

TEST(Paths, MissingGivesNull) {
  EXPECT_EQ(eval("input.nope"), Json(nullptr));
  EXPECT_EQ(eval("input.nope.deeper[3].more"), Json(nullptr));
  EXPECT_EQ(eval("input.items[10]"), Json(nullptr));
  EXPECT_EQ(eval("input.items[-4]"), Json(nullptr));
  EXPECT_EQ(eval("input.none.x"), Json(nullptr));
  EXPECT_EQ(eval("nothing"), Json(nullptr));
}

TEST(Paths, ReadingThroughAScalarIsATypeError) {
  EXPECT_EQ(eval_error("input.name.first"),
            "invalid_argument: column 12: cannot read 'first' of string in 'input.name.first'");
  EXPECT_EQ(eval_error("input.user[0]"),
            "invalid_argument: column 11: cannot index object with [0] in 'input.user[0]'");
  EXPECT_EQ(eval_error("input.items['a']"),
            "invalid_argument: column 12: cannot read 'a' of array in 'input.items['a']'");
  EXPECT_EQ(eval_error("input.count[0]"),
            "invalid_argument: column 12: cannot index number with [0] in 'input.count[0]'");
}

// --- Literals ------------------------------------------------------------------

TEST(Literals, EveryKind) {
  EXPECT_EQ(eval("'text'"), Json("text"));
  EXPECT_EQ(eval("\"text\""), Json("text"));
  EXPECT_EQ(eval("42"), Json(42));
  EXPECT_TRUE(eval("42").is_number_integer());
  EXPECT_EQ(eval("-7"), Json(-7));
  EXPECT_EQ(eval("3.5"), Json(3.5));
  EXPECT_EQ(eval("1e3"), Json(1000.0));
  EXPECT_TRUE(eval("1e3").is_number_float());
  EXPECT_EQ(eval("true"), Json(true));
  EXPECT_EQ(eval("false"), Json(false));
  EXPECT_EQ(eval("null"), Json(nullptr));
}

TEST(Literals, StringEscapes) {
  EXPECT_EQ(eval(R"('it\'s')"), Json("it's"));
  EXPECT_EQ(eval(R"("say \"hi\"")"), Json("say \"hi\""));
  EXPECT_EQ(eval(R"("a\nb\tc\\d\re")"), Json("a\nb\tc\\d\re"));
  EXPECT_EQ(eval(R"("it's")"), Json("it's"));
}

TEST(Literals, IntegerTooLargeForSixtyFourBitsBecomesFloat) {
  Json value = eval("99999999999999999999");
  EXPECT_TRUE(value.is_number_float());
  EXPECT_EQ(value, Json(1e20));
}

// --- Comparison ----------------------------------------------------------------

TEST(Comparison, EqualityIsByValueOnAnyJson) {
  EXPECT_EQ(eval("input.count == 3"), Json(true));
  EXPECT_EQ(eval("3 == 3.0"), Json(true));
  EXPECT_EQ(eval("'a' == 'a'"), Json(true));
  EXPECT_EQ(eval("input.items == input.items"), Json(true));
  EXPECT_EQ(eval("input.user == input.user"), Json(true));
  EXPECT_EQ(eval("input.user == input.items"), Json(false));
  EXPECT_EQ(eval("null == null"), Json(true));
  EXPECT_EQ(eval("input.nope == null"), Json(true));
  EXPECT_EQ(eval("1 == '1'"), Json(false));
  EXPECT_EQ(eval("1 != '1'"), Json(true));
  EXPECT_EQ(eval("input.name != 'Ada'"), Json(false));
  EXPECT_EQ(eval("true == 1"), Json(false));
}

TEST(Comparison, NumbersCompareNumerically) {
  EXPECT_EQ(eval("2 < 3"), Json(true));
  EXPECT_EQ(eval("3 < 3"), Json(false));
  EXPECT_EQ(eval("3 <= 3"), Json(true));
  EXPECT_EQ(eval("4 > 3"), Json(true));
  EXPECT_EQ(eval("3 >= 4"), Json(false));
  EXPECT_EQ(eval("2 < 2.5"), Json(true));
  EXPECT_EQ(eval("input.ratio < 1"), Json(true));
  EXPECT_EQ(eval("-1 < 0"), Json(true));
  EXPECT_EQ(eval("10 > 9"), Json(true));  // not as text, where "10" < "9"
  EXPECT_EQ(eval("9007199254740993 > 9007199254740992.0"), Json(true));
}

TEST(Comparison, StringsCompareLexicographically) {
  EXPECT_EQ(eval("'abc' < 'abd'"), Json(true));
  EXPECT_EQ(eval("'ab' < 'abc'"), Json(true));
  EXPECT_EQ(eval("'b' >= 'a'"), Json(true));
  EXPECT_EQ(eval("'B' < 'a'"), Json(true));  // byte order: upper case first
  EXPECT_EQ(eval("'10' < '9'"), Json(true));
}

TEST(Comparison, OrderingOtherTypesIsAnError) {
  EXPECT_EQ(eval_error("input.user < 1"),
            "invalid_argument: column 12: cannot compare object with number using '<' in "
            "'input.user < 1'");
  EXPECT_EQ(eval_error("input.nope >= 1"),
            "invalid_argument: column 12: cannot compare null with number using '>=' in "
            "'input.nope >= 1'");
  EXPECT_EQ(eval_error("'3' > 2"),
            "invalid_argument: column 5: cannot compare string with number using '>' in ''3' > 2'");
  EXPECT_EQ(eval_error("true <= false"),
            "invalid_argument: column 6: cannot compare boolean with boolean using '<=' in "
            "'true <= false'");
}

// --- Logic ---------------------------------------------------------------------

TEST(Logic, AndOrNotGiveBooleans) {
  EXPECT_EQ(eval("1 and 'x'"), Json(true));
  EXPECT_EQ(eval("1 and ''"), Json(false));
  EXPECT_EQ(eval("0 or ''"), Json(false));
  EXPECT_EQ(eval("0 or input.name"), Json(true));
  EXPECT_EQ(eval("not input.empty"), Json(true));
  EXPECT_EQ(eval("not input.name"), Json(false));
  EXPECT_EQ(eval("not not input.name"), Json(true));
  EXPECT_EQ(eval("true and true and false"), Json(false));
  EXPECT_EQ(eval("false or false or true"), Json(true));
}

TEST(Logic, ShortCircuitSkipsTheRest) {
  // The right side would be a type error if it were evaluated.
  EXPECT_EQ(eval("false and input.user < 1"), Json(false));
  EXPECT_EQ(eval("true or input.user < 1"), Json(true));
  EXPECT_EQ(eval("input.nope and input.user < 1"), Json(false));
  EXPECT_FALSE(evaluate_expression("true and input.user < 1", scope()).ok());
  EXPECT_FALSE(evaluate_expression("false or input.user < 1", scope()).ok());
}

TEST(Logic, Truthiness) {
  EXPECT_FALSE(condition("false"));
  EXPECT_FALSE(condition("null"));
  EXPECT_FALSE(condition("0"));
  EXPECT_FALSE(condition("0.0"));
  EXPECT_FALSE(condition("''"));
  EXPECT_FALSE(condition("input.items[5]"));
  EXPECT_FALSE(condition("input.nope"));
  Json empties = {{"input", {{"list", Json::array()}, {"map", Json::object()}}}};
  EXPECT_FALSE(*evaluate_condition("input.list", empties));
  EXPECT_FALSE(*evaluate_condition("input.map", empties));

  EXPECT_TRUE(condition("true"));
  EXPECT_TRUE(condition("1"));
  EXPECT_TRUE(condition("-0.5"));
  EXPECT_TRUE(condition("'false'"));
  EXPECT_TRUE(condition("' '"));
  EXPECT_TRUE(condition("input.items"));
  EXPECT_TRUE(condition("input.user"));
}

// --- Precedence: not > comparison > and > or; filters bind tightest ---------------

TEST(Precedence, NotBindsTighterThanComparison) {
  // (not null) == false, i.e. true == false.
  EXPECT_EQ(eval("not null == false"), Json(false));
  EXPECT_EQ(eval("not (null == false)"), Json(true));
  // (not 0) < 1 compares a boolean with a number.
  EXPECT_EQ(eval_error("not 0 < 1"),
            "invalid_argument: column 7: cannot compare boolean with number using '<' in "
            "'not 0 < 1'");
}

TEST(Precedence, ComparisonBindsTighterThanAnd) {
  EXPECT_EQ(eval("1 == 1 and 2 == 2"), Json(true));
  EXPECT_EQ(eval("input.count > 2 and input.name == 'Ada'"), Json(true));
}

TEST(Precedence, AndBindsTighterThanOr) {
  EXPECT_EQ(eval("true or false and false"), Json(true));
  EXPECT_EQ(eval("false and false or true"), Json(true));
  EXPECT_EQ(eval("(true or false) and false"), Json(false));
  EXPECT_EQ(eval("false and (false or true)"), Json(false));
}

TEST(Precedence, FiltersBindTighterThanOperators) {
  EXPECT_EQ(eval("input.name | length == 3"), Json(true));
  EXPECT_EQ(eval("not input.items | length"), Json(false));
  EXPECT_EQ(eval("input.nope | default(2) > 1"), Json(true));
  EXPECT_EQ(eval("(1 == 2) | json"), Json("false"));
}

TEST(Precedence, ParenthesesGroup) {
  EXPECT_EQ(eval("((((input.count))))"), Json(3));
  EXPECT_EQ(eval("not (1 == 1)"), Json(false));
}

// --- Filters -------------------------------------------------------------------

TEST(Filters, DefaultReplacesOnlyNull) {
  EXPECT_EQ(eval("input.nope | default('x')"), Json("x"));
  EXPECT_EQ(eval("input.none | default(input.count)"), Json(3));
  EXPECT_EQ(eval("input.name | default('x')"), Json("Ada"));
  EXPECT_EQ(eval("input.empty | default('x')"), Json(""));
  EXPECT_EQ(eval("input.flag | default(false)"), Json(true));
  EXPECT_EQ(eval("input.nope | default(input.also_nope | default(5))"), Json(5));
  EXPECT_EQ(eval("input.nope | default(null) | default('last')"), Json("last"));
}

TEST(Filters, DefaultIsEvaluatedOnlyWhenUsed) {
  EXPECT_EQ(eval("input.name | default(input.user < 1)"), Json("Ada"));
  EXPECT_FALSE(evaluate_expression("input.nope | default(input.user < 1)", scope()).ok());
}

TEST(Filters, UpperLowerTrim) {
  EXPECT_EQ(eval("input.name | upper"), Json("ADA"));
  EXPECT_EQ(eval("input.name | lower"), Json("ada"));
  EXPECT_EQ(eval("input.padded | trim"), Json("hi"));
  EXPECT_EQ(eval("'\t\n x \r' | trim"), Json("x"));
  EXPECT_EQ(eval("input.accent | upper"), Json("HéLLO"));  // ASCII letters only
  EXPECT_EQ(eval("input.padded | trim | upper | length"), Json(2));
}

TEST(Filters, JsonIsCompact) {
  EXPECT_EQ(eval("input.user | json"), Json(R"({"first":"Ada","last":"Lovelace"})"));
  EXPECT_EQ(eval("input.items | json"), Json("[1,2,3]"));
  EXPECT_EQ(eval("input.name | json"), Json("\"Ada\""));
  EXPECT_EQ(eval("input.none | json"), Json("null"));
  EXPECT_EQ(eval("input.count | json"), Json("3"));
  EXPECT_EQ(render("{{ input.items | json }}"), Json("[1,2,3]"));  // a string, not an array
}

TEST(Filters, LengthOfStringsArraysObjects) {
  EXPECT_EQ(eval("input.name | length"), Json(3));
  EXPECT_EQ(eval("input.accent | length"), Json(5));  // characters, not bytes
  EXPECT_EQ(eval("input.empty | length"), Json(0));
  EXPECT_EQ(eval("input.items | length"), Json(3));
  EXPECT_EQ(eval("input.user | length"), Json(2));
}

TEST(Filters, WrongInputTypeIsAnError) {
  EXPECT_EQ(eval_error("input.count | upper"),
            "invalid_argument: column 15: filter 'upper' needs a string, got number in "
            "'input.count | upper'");
  EXPECT_EQ(eval_error("input.items | trim"),
            "invalid_argument: column 15: filter 'trim' needs a string, got array in "
            "'input.items | trim'");
  EXPECT_EQ(eval_error("input.none | lower"),
            "invalid_argument: column 14: filter 'lower' needs a string, got null in "
            "'input.none | lower'");
  EXPECT_EQ(eval_error("input.count | length"),
            "invalid_argument: column 15: filter 'length' needs a string, array or object, got "
            "number in 'input.count | length'");
}

// --- Syntax errors name the column ---------------------------------------------------

TEST(Errors, UnknownFilter) {
  EXPECT_EQ(render_error("{{ input.name | uper }}"),
            "invalid_argument: column 17: unknown filter 'uper' in '{{ input.name | uper }}'");
}

TEST(Errors, UnclosedBraces) {
  EXPECT_EQ(render_error("Hello {{ input.name"),
            "invalid_argument: column 7: unclosed '{{' in 'Hello {{ input.name'");
  EXPECT_EQ(render_error("{{ a }} and {{ b =="),
            "invalid_argument: column 13: unclosed '{{' in '{{ a }} and {{ b =='");
  EXPECT_EQ(render_error("{{"), "invalid_argument: column 1: unclosed '{{' in '{{'");
}

TEST(Errors, EmptyExpression) {
  EXPECT_EQ(render_error("{{ }}"), "invalid_argument: column 4: empty expression in '{{ }}'");
  EXPECT_EQ(eval_error("  "), "invalid_argument: column 3: empty expression in '  '");
}

TEST(Errors, Tokens) {
  EXPECT_EQ(render_error("{{ 'abc }}"),
            "invalid_argument: column 4: unterminated string in '{{ 'abc }}'");
  EXPECT_EQ(render_error("{{ a $ b }}"),
            "invalid_argument: column 6: unexpected character '$' in '{{ a $ b }}'");
  EXPECT_EQ(render_error("{{ a = 1 }}"),
            "invalid_argument: column 6: unexpected '=' (use '==' to compare) in '{{ a = 1 }}'");
  EXPECT_EQ(render_error("{{ !a }}"),
            "invalid_argument: column 4: unexpected '!' (use 'not') in '{{ !a }}'");
  EXPECT_EQ(render_error("{{ a && b }}"),
            "invalid_argument: column 6: unexpected '&' (use 'and') in '{{ a && b }}'");
  EXPECT_EQ(render_error("{{ {{ a }} }}"),
            "invalid_argument: column 4: '{{' inside an expression in '{{ {{ a }} }}'");
  EXPECT_EQ(render_error("{{ a } }}"), "invalid_argument: column 6: unexpected '}' in '{{ a } }}'");
  EXPECT_EQ(render_error(R"({{ 'a\qb' }})"),
            R"(invalid_argument: column 6: unknown escape '\q' (use \\, \', \", \n, \t or \r) )"
            R"(in '{{ 'a\qb' }}')");
  EXPECT_EQ(render_error("{{ 'é' | é }}"),
            "invalid_argument: column 10: unexpected character 'é' in '{{ 'é' | é }}'");
}

TEST(Errors, Grammar) {
  EXPECT_EQ(render_error("{{ a b }}"),
            "invalid_argument: column 6: expected '}}', got 'b' in '{{ a b }}'");
  EXPECT_EQ(eval_error("1 =="),
            "invalid_argument: column 5: expected an expression, got end of expression in '1 =='");
  EXPECT_EQ(eval_error("(1 == 1"),
            "invalid_argument: column 8: expected ')', got end of expression in '(1 == 1'");
  EXPECT_EQ(eval_error("a and or b"),
            "invalid_argument: column 7: expected an expression, got 'or' in 'a and or b'");
  EXPECT_EQ(eval_error("1 < 2 < 3"),
            "invalid_argument: column 7: comparisons cannot be chained (join them with 'and') "
            "in '1 < 2 < 3'");
  EXPECT_EQ(eval_error("a."),
            "invalid_argument: column 3: expected a name after '.', got end of "
            "expression in 'a.'");
  EXPECT_EQ(eval_error("a[1.5]"),
            "invalid_argument: column 3: expected an integer index or a quoted key inside '[ ]', "
            "got '1.5' in 'a[1.5]'");
  EXPECT_EQ(eval_error("a[0"),
            "invalid_argument: column 4: expected ']', got end of expression "
            "in 'a[0'");
  EXPECT_EQ(eval_error("'a'.b"),
            "invalid_argument: column 4: expected end of expression, got '.' in ''a'.b'");
  EXPECT_EQ(eval_error("a }}"), "invalid_argument: column 3: unexpected '}' in 'a }}'");
}

TEST(Errors, FilterArguments) {
  EXPECT_EQ(eval_error("a | upper(1)"),
            "invalid_argument: column 10: filter 'upper' takes no arguments in 'a | upper(1)'");
  EXPECT_EQ(eval_error("a | default"),
            "invalid_argument: column 5: filter 'default' needs a value: default(x) in "
            "'a | default'");
  EXPECT_EQ(eval_error("a | default(1, 2)"),
            "invalid_argument: column 14: unexpected character ',' in 'a | default(1, 2)'");
  EXPECT_EQ(eval_error("a | 'x'"),
            "invalid_argument: column 5: expected a filter name after '|', got ''x'' in "
            "'a | 'x''");
}

TEST(Errors, MultiLineTemplatesNameLineAndColumn) {
  EXPECT_EQ(render_error("first line\n  {{ a | nope }}"),
            "invalid_argument: line 2, column 10: unknown filter 'nope' in "
            "'first line\\n  {{ a | nope }}'");
}

TEST(Errors, ColumnsCountCharactersNotBytes) {
  EXPECT_EQ(render_error("é {{ x | nope }}"),
            "invalid_argument: column 10: unknown filter 'nope' in 'é {{ x | nope }}'");
}

TEST(Errors, NestedValuesNameWhereTheStringIs) {
  Json value = Json::parse(R"({"with": {"url": "{{ x | nope }}"}})");
  EXPECT_EQ(render_error(value),
            "invalid_argument: with.url: column 8: unknown filter 'nope' in '{{ x | nope }}'");
  Json list = Json::parse(R"({"steps": [{"my-key": "ok"}, {"my-key": "{{ ( }}"}]})");
  EXPECT_EQ(render_error(list),
            "invalid_argument: steps[1][\"my-key\"]: column 6: expected an expression, got "
            "'}}' in '{{ ( }}'");
}

TEST(Errors, EvaluationErrorsInsideTemplatesUseTemplateColumns) {
  EXPECT_EQ(render_error("count: {{ input.user > 1 }}"),
            "invalid_argument: column 22: cannot compare object with number using '>' in "
            "'count: {{ input.user > 1 }}'");
}

// --- Limits --------------------------------------------------------------------

TEST(Limits, TemplateLength) {
  std::string at_limit = "{{ 1 }}" + std::string(64 * 1024 - 7, ' ');
  EXPECT_EQ(render(at_limit), Json(1));
  std::string over = at_limit + " ";
  EXPECT_EQ(render_error(over),
            "resource_exhausted: template is 65537 bytes, more than the limit of 65536");
  EXPECT_EQ(check_template(over).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(evaluate_expression("1" + std::string(64 * 1024, ' '), scope()).status().code(),
            StatusCode::kResourceExhausted);
  // Strings that are not templates are not limited.
  std::string plain(100 * 1024, 'x');
  EXPECT_EQ(render(plain), Json(plain));
}

TEST(Limits, ExpressionNestingDepth) {
  auto nested = [](int depth) { return std::string(depth, '(') + "1" + std::string(depth, ')'); };
  EXPECT_EQ(eval(nested(64)), Json(1));
  std::string too_deep = eval_error(nested(65));
  EXPECT_TRUE(starts_with(too_deep,
                          "resource_exhausted: column 65: expression nested deeper than 64 levels"))
      << too_deep;
  // Far deeper input fails the same way instead of overflowing the stack.
  EXPECT_TRUE(starts_with(eval_error(nested(30000)),
                          "resource_exhausted: column 65: expression nested deeper than 64"));

  std::string nots;
  for (int i = 0; i < 64; ++i) nots += "not ";
  EXPECT_EQ(eval(nots + "true"), Json(true));
  EXPECT_TRUE(starts_with(eval_error("not " + nots + "true"),
                          "resource_exhausted: column 257: expression nested deeper than 64"));

  std::string defaults = "x";
  for (int i = 0; i < 65; ++i) defaults = "x | default(" + defaults + ")";
  EXPECT_EQ(eval_error(defaults).rfind("resource_exhausted: column", 0), 0u);
}

TEST(Limits, LongFlatChainsAreNotNesting) {
  std::string chain = "false";
  for (int i = 0; i < 5000; ++i) chain += " or false";
  chain += " or true";
  EXPECT_EQ(eval(chain), Json(true));
  std::string filters = "'  a  '";
  for (int i = 0; i < 5000; ++i) filters += " | trim";
  EXPECT_EQ(eval(filters), Json("a"));
}

TEST(Limits, RenderedOutputSize) {
  Json data = scope();
  data["input"]["big"] = std::string(600 * 1024, 'b');
  data["input"]["huge"] = std::string(1100 * 1024, 'h');

  Result<Json> once = render_template(Json("{{ input.big }}"), data);
  ASSERT_TRUE(once.ok());
  EXPECT_EQ(once->get_ref<const std::string&>().size(), 600u * 1024);

  Result<Json> twice = render_template(Json("{{ input.big }}{{ input.big }}"), data);
  EXPECT_EQ(twice.status().to_string(),
            "resource_exhausted: column 16: rendered output exceeds the limit of 1048576 bytes in "
            "'{{ input.big }}{{ input.big }}'");

  EXPECT_EQ(render_template(Json("{{ input.huge }}"), data).status().code(),
            StatusCode::kResourceExhausted);

  // The budget is for the whole call, not per string.
  Json spread = Json::array({"{{ input.big }}", "{{ input.big }}"});
  EXPECT_EQ(render_template(spread, data).status().to_string(),
            "resource_exhausted: [1]: column 1: rendered output exceeds the limit of 1048576 "
            "bytes in '{{ input.big }}'");

  // Filters that build text are charged too, before the text is built.
  Result<Json> json_twice = evaluate_expression("input.big | json | json", data);
  EXPECT_EQ(json_twice.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(starts_with(json_twice.status().message(), "column 20: rendered output exceeds"))
      << json_twice.status().message();
  EXPECT_EQ(evaluate_expression("input.huge | upper", data).status().code(),
            StatusCode::kResourceExhausted);
  // Reading a large value without building text is free.
  EXPECT_EQ(*evaluate_expression("input.huge | length", data), Json(1100 * 1024));
}

TEST(Limits, NestedJsonDepth) {
  auto nested = [](int depth) {
    Json value = "{{ input.count }}";
    for (int i = 0; i < depth; ++i) value = Json::array({value});
    return value;
  };
  Result<Json> at_limit = render_template(nested(64), scope());
  ASSERT_TRUE(at_limit.ok()) << at_limit.status().to_string();
  const Json* inner = &*at_limit;
  for (int i = 0; i < 64; ++i) inner = &(*inner)[0];
  EXPECT_EQ(*inner, Json(3));

  std::string error = render_error(nested(65));
  EXPECT_NE(error.find("JSON nested deeper than 64 levels"), std::string::npos) << error;
  EXPECT_TRUE(starts_with(error, "resource_exhausted: [0][0]")) << error;
}

// --- evaluate_condition ------------------------------------------------------------

TEST(EvaluateCondition, WithOrWithoutBraces) {
  EXPECT_TRUE(condition("input.count > 2"));
  EXPECT_TRUE(condition("{{ input.count > 2 }}"));
  EXPECT_FALSE(condition("  {{ input.count > 5 }}  "));
  EXPECT_TRUE(condition("{{ input.items }}"));
}

TEST(EvaluateCondition, MustBeOneExpression) {
  Result<bool> result = evaluate_condition("{{ input.count }} == 1", scope());
  EXPECT_EQ(result.status().to_string(),
            "invalid_argument: a condition must be one expression, written 'a == 1' or "
            "'{{ a == 1 }}', not '{{ input.count }} == 1'");
}

TEST(EvaluateCondition, ErrorsKeepTheirColumn) {
  EXPECT_EQ(evaluate_condition("{{ input.user < 1 }}", scope()).status().to_string(),
            "invalid_argument: column 15: cannot compare object with number using '<' in "
            "'{{ input.user < 1 }}'");
  EXPECT_EQ(evaluate_condition("", scope()).status().to_string(),
            "invalid_argument: column 1: empty expression in ''");
}

// --- check_template and template_paths ------------------------------------------------

TEST(CheckTemplate, SyntaxOnly) {
  EXPECT_TRUE(check_template("Hello {{ input.name | upper }}").ok());
  EXPECT_TRUE(check_template("no template here").ok());
  // Type errors depend on the data, so they are not syntax errors.
  EXPECT_TRUE(check_template("{{ input.user < 1 }}").ok());
  EXPECT_EQ(check_template("{{ input.name | uper }}").to_string(),
            "invalid_argument: column 17: unknown filter 'uper' in '{{ input.name | uper }}'");
  EXPECT_EQ(check_template("{{ a }} {{").to_string(),
            "invalid_argument: column 9: unclosed '{{' in '{{ a }} {{'");
}

TEST(TemplatePaths, RootsInOrderOfFirstUse) {
  Result<std::vector<std::string>> roots = template_paths(
      "{{ input.a }} {{ steps.fetch.output | default(trigger.body) }} {{ input.b }} "
      "{{ 'literal' }} {{ not item and run.id == event['x'] }}");
  ASSERT_TRUE(roots.ok()) << roots.status().to_string();
  EXPECT_EQ(*roots,
            (std::vector<std::string>{"input", "steps", "trigger", "item", "run", "event"}));
}

TEST(TemplatePaths, KeywordsAndLiteralsAreNotRoots) {
  EXPECT_EQ(*template_paths("{{ true and null or 'x' == 1 }}"), std::vector<std::string>{});
  EXPECT_EQ(*template_paths("no braces"), std::vector<std::string>{});
}

TEST(TemplatePaths, SyntaxErrorsAreReported) {
  EXPECT_EQ(template_paths("{{ input. }}").status().to_string(),
            "invalid_argument: column 11: expected a name after '.', got '}}' in '{{ input. }}'");
}

}  // namespace
}  // namespace cadre
