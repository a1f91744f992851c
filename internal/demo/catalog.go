package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// The fixed tables that shape the data. They do not depend on Options, so
// product ids, prices and names are the same in every generated history.

// country is where a user lives.
type country struct {
	code     string
	weight   float64
	offset   int64   // minutes east of UTC (for the time of day)
	conv     float64 // multiplies checkout and order rates
	taxRate  float64
	payments []weighted
}

var countries = []country{
	{"US", 30, -5 * 60, 1.00, 0.07, w("card", 68, "paypal", 20, "apple_pay", 12)},
	{"GB", 12, 0, 1.05, 0.20, w("card", 60, "paypal", 25, "apple_pay", 15)},
	{"DE", 11, 60, 1.10, 0.19, w("paypal", 42, "card", 28, "klarna", 30)},
	{"FR", 7, 60, 0.90, 0.20, w("card", 70, "paypal", 30)},
	{"CA", 6, -5 * 60, 1.00, 0.13, w("card", 75, "paypal", 25)},
	{"IN", 12, 330, 0.55, 0.18, w("upi", 52, "card", 28, "cod", 20)},
	{"BR", 9, -3 * 60, 0.65, 0.17, w("pix", 45, "card", 45, "boleto", 10)},
	{"AU", 5, 600, 1.05, 0.10, w("card", 70, "paypal", 20, "apple_pay", 10)},
	{"JP", 4, 540, 0.85, 0.10, w("card", 70, "konbini", 30)},
	{"NL", 4, 60, 1.10, 0.21, w("ideal", 60, "card", 25, "paypal", 15)},
}

// maxEastOffset is the largest offset in countries, in milliseconds: a
// user's local day starts that much before the UTC day.
const maxEastOffset = 600 * 60_000

// device is what a session runs on.
type device struct {
	name   string
	weight float64
	// multipliers for the funnel steps: product view, cart, checkout, order
	steps [4]float64
	oses  []weighted
	app   float64 // share of sessions in the app rather than the web
}

var devices = []device{
	{"mobile", 55, [4]float64{0.95, 0.88, 0.90, 0.85}, w("iOS", 46, "Android", 54), 0.55},
	{"desktop", 35, [4]float64{1.06, 1.12, 1.10, 1.12}, w("Windows", 58, "macOS", 36, "Linux", 6), 0},
	{"tablet", 10, [4]float64{1.00, 1.00, 1.00, 0.95}, w("iPadOS", 68, "Android", 32), 0.40},
}

// channel is how a user found the shop.
type channel struct {
	name      string
	weight    float64
	retention float64 // multiplies the chance of coming back
	conv      float64 // multiplies the chance of adding to the cart
	referrers []string
	campaigns []string
}

var channels = []channel{
	{"organic", 30, 1.00, 1.00, []string{"google.com", "bing.com", "duckduckgo.com", "direct"}, []string{"none"}},
	{"paid_search", 22, 0.80, 1.05, []string{"google.com", "bing.com"}, []string{"brand_search", "generic_shoes", "holiday_gifts"}},
	{"social", 20, 0.60, 0.80, []string{"instagram.com", "tiktok.com", "facebook.com", "reddit.com"}, []string{"influencer_q4", "retargeting", "video_ads"}},
	{"referral", 10, 1.45, 1.10, []string{"friend_invite"}, []string{"refer_a_friend"}},
	{"email", 10, 1.25, 1.20, []string{"newsletter"}, []string{"welcome_series", "black_friday", "winback"}},
	{"affiliate", 8, 0.70, 1.10, []string{"dealhunter.example", "couponbay.example"}, []string{"affiliate_deals"}},
}

// plan is the membership a user signs up for.
type plan struct {
	name      string
	weight    float64
	retention float64
	conv      float64
}

var plans = []plan{
	{"free", 85, 1.00, 1.00},
	{"plus", 15, 1.30, 1.25},
}

var ageBands = w("18-24", 22, "25-34", 34, "35-44", 22, "45-54", 13, "55+", 9)

// product is one item of the catalog.
type product struct {
	id       string
	name     string
	category int
	cents    int64
}

// category groups products.
type category struct {
	name     string
	title    string
	nouns    []string
	min, max float64 // price range in dollars
}

var categories = []category{
	{"shoes", "Shoes", []string{"Runner", "Trail Runner", "Court Classic", "Hiker", "Slip-On", "Sandal"}, 40, 180},
	{"apparel", "Apparel", []string{"Hoodie", "Tee", "Rain Jacket", "Leggings", "Shorts", "Beanie"}, 15, 150},
	{"electronics", "Electronics", []string{"Earbuds", "Headphones", "Smartwatch", "Speaker", "Charger", "Power Bank"}, 15, 350},
	{"home", "Home", []string{"Mug Set", "Desk Lamp", "Throw Blanket", "Candle", "Planter", "Cookware Set"}, 10, 200},
	{"beauty", "Beauty", []string{"Serum", "Moisturizer", "Lip Balm", "Shampoo", "Face Mask", "Perfume"}, 8, 120},
	{"sports", "Sports", []string{"Yoga Mat", "Dumbbells", "Water Bottle", "Jump Rope", "Resistance Bands", "Backpack"}, 10, 120},
	{"books", "Books", []string{"Cookbook", "Novel", "Travel Guide", "Notebook", "Planner", "Art Book"}, 8, 45},
	{"toys", "Toys", []string{"Puzzle", "Building Set", "Plush Bear", "Board Game", "Kite", "RC Car"}, 10, 90},
}

var adjectives = []string{"Aero", "Nimbus", "Terra", "Pulse", "Drift", "Summit", "Nova", "Echo", "Lumen", "Orbit"}

// catalog is the fixed product list; popularity is Zipf-like.
var catalog, catalogCum = buildCatalog()

// byCategory lists the catalog indices of each category's products.
var byCategory = func() [][]int {
	out := make([][]int, len(categories))
	for i, p := range catalog {
		out[p.category] = append(out[p.category], i)
	}
	return out
}()

func buildCatalog() ([]product, []float64) {
	r := rand.New(rand.NewPCG(20260101, 7))
	var ps []product
	for ci, c := range categories {
		for j := range 15 {
			noun := c.nouns[j%len(c.nouns)]
			adj := adjectives[r.IntN(len(adjectives))]
			dollars := c.min + (c.max-c.min)*math.Pow(r.Float64(), 1.6)
			cents := int64(math.Floor(dollars))*100 + 99
			ps = append(ps, product{
				id:       fmt.Sprintf("sku-%d%03d", ci+1, j+1),
				name:     adj + " " + noun,
				category: ci,
				cents:    cents,
			})
		}
	}
	// Popularity: a Zipf-like weight by a shuffled rank.
	ranks := r.Perm(len(ps))
	cum := make([]float64, len(ps))
	total := 0.0
	for i := range ps {
		total += 1 / math.Pow(float64(ranks[i]+1), 0.9)
		cum[i] = total
	}
	return ps, cum
}

// pages are the non-product pages a session may view, with weights.
var pages = []struct {
	path, title string
	weight      float64
}{
	{"/", "Home", 30},
	{"/sale", "Sale", 12},
	{"/new", "New Arrivals", 10},
	{"/search", "Search", 14},
	{"/category", "", 24}, // a category page: path and title filled in
	{"/account", "Your Account", 4},
	{"/wishlist", "Wishlist", 3},
	{"/help/shipping", "Shipping & Returns", 2},
	{"/blog/gift-guide", "Gift Guide", 1},
}

var pageCum = func() []float64 {
	cum := make([]float64, len(pages))
	t := 0.0
	for i, p := range pages {
		t += p.weight
		cum[i] = t
	}
	return cum
}()

var refundReasons = w("wrong_size", 34, "damaged", 18, "not_as_described", 16, "changed_mind", 22, "late_delivery", 10)

var coupons = []string{"WELCOME10", "SAVE15", "FREESHIP", "VIP20"}

// weighted is one choice of a weighted list.
type weighted struct {
	name   string
	weight float64
}

// w builds a weighted list from name, weight pairs.
func w(pairs ...any) []weighted {
	out := make([]weighted, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, weighted{pairs[i].(string), float64(pairs[i+1].(int))})
	}
	return out
}

// pick draws a name from a weighted list.
func pick(r *rand.Rand, ws []weighted) string {
	total := 0.0
	for _, x := range ws {
		total += x.weight
	}
	v := r.Float64() * total
	for _, x := range ws {
		v -= x.weight
		if v < 0 {
			return x.name
		}
	}
	return ws[len(ws)-1].name
}

// pickCum draws an index from cumulative weights.
func pickCum(r *rand.Rand, cum []float64) int {
	v := r.Float64() * cum[len(cum)-1]
	return sort.SearchFloat64s(cum, v)
}

// pickIndex draws an index by weight from n items.
func pickIndex[T any](r *rand.Rand, items []T, weight func(*T) float64) int {
	total := 0.0
	for i := range items {
		total += weight(&items[i])
	}
	v := r.Float64() * total
	for i := range items {
		v -= weight(&items[i])
		if v < 0 {
			return i
		}
	}
	return len(items) - 1
}

// hourWeights shape the local time of day of visits: quiet at night, a
// lunchtime bump and an evening peak.
var hourCum = func() []float64 {
	weights := []float64{1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 3.5, 3.5, 3.6, 4, 3.8, 3.5, 3.5, 3.8, 4.2, 5, 6, 6.5, 5.5, 4, 2.5}
	cum := make([]float64, len(weights))
	t := 0.0
	for i, x := range weights {
		t += x
		cum[i] = t
	}
	return cum
}()
