package simulator

import (
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// A sample is an invoice waiting in the user's invoice assistant for a bill: what the collect page
// lists. Samples are generated deterministically from the seed and resource+billId, so a twin
// simulator with the same seed shows the same invoices. Each page of eight mixes the common types;
// one sample of the first page is issued to another buyer and is 不合规 (refused on import).
type sample struct {
	inv       Invoice
	compliant bool
	reason    string // why it is not compliant
}

const samplesPerPage = 8

// sampleTypes is the type mix of one page (shuffled per bill and page).
var sampleTypes = []string{"4", "27", "26", "1", "9", "10", "26", "27"}

// invoiceTypeName names the types the simulator generates (vendor code table).
func invoiceTypeName(code string) string {
	switch code {
	case "1":
		return "电子普通发票"
	case "2":
		return "电子专用发票"
	case "3":
		return "增值税普通发票"
	case "4":
		return "增值税专用发票"
	case "9":
		return "火车票"
	case "10":
		return "飞机行程单"
	case "26":
		return "数电票（普通发票）"
	case "27":
		return "数电票（增值税专用发票）"
	case "28":
		return "数电票（航空运输电子客票行程单）"
	case "29":
		return "数电票（铁路电子客票）"
	}
	return "其它票(" + code + ")"
}

type seller struct{ name, taxNo, goods, unit string }

// Sellers are invented companies; tax numbers are made-up unified social credit codes. They never
// change: a devstack's data dir regenerates its invoices from them after an upgrade, and a changed
// seller makes the restarted simulator deliver an earlier import again (systest/upgrade caught a
// returned bill submitting itself). Their check characters need not verify: rimflow checks GB 32100
// only on the ERP's own tax numbers (billTaxNo, companyInfo).
var vatSellers = []seller{
	{"深圳市前海云帆信息技术有限公司", "91440300MA5FXK2L7Q", "*信息技术服务*软件技术服务费", "项"},
	{"上海静安悦庭餐饮管理有限公司", "91310106MA1FY3RT4C", "*餐饮服务*餐饮服务", "次"},
	{"北京朝阳锦华酒店管理有限公司", "91110105MA01KQ8W2N", "*住宿服务*住宿费", "天"},
	{"广州天河晨光文具有限公司", "91440106MA59C7HX1E", "*纸制品*复印纸", "箱"},
	{"杭州西溪数码科技有限公司", "91330106MA2H3PLN8U", "*计算机外部设备*显示器", "台"},
	{"南京玄武会务服务有限公司", "91320102MA1WQ6YB3K", "*会议服务*会议费", "次"},
	{"成都锦江蓉城汽车租赁有限公司", "91510104MA6CJ2RX9P", "*经营租赁*汽车租赁费", "天"},
}

var trainSellers = []seller{
	{"中国铁路广州局集团有限公司", "91440000190332410X", "*运输服务*铁路旅客运输", "张"},
	{"中国铁路上海局集团有限公司", "91310000132201802X", "*运输服务*铁路旅客运输", "张"},
	{"中国铁路北京局集团有限公司", "91110000101100145X", "*运输服务*铁路旅客运输", "张"},
}

var airSellers = []seller{
	{"南方云天航空股份有限公司", "91440000100017600X", "*运输服务*航空旅客运输", "张"},
	{"东方云海航空股份有限公司", "91310000132283306X", "*运输服务*航空旅客运输", "张"},
}

var rates = map[string][]string{
	"4":  {"0.13", "0.06", "0.09"},
	"27": {"0.13", "0.06"},
	"26": {"0.01", "0.03", "0.06"},
	"1":  {"0.06", "0.03", "0.13"},
}

// defaultBuyer is used when getEventCode names no company at all.
var defaultBuyer = Company{TaxNo: "91440300MA5G9GK78Y", Name: "深圳市金蝶示例科技有限公司"}

// sampler makes the samples of a bill and judges an invoice's compliance for it: the invoices a
// user sees in the assistant, the same for a twin simulator with the same seed.
type sampler struct {
	seed   int64
	strict bool // Options.Strict: only companyInfo's buyers, and their names must match
}

// streamSeed derives an independent deterministic stream from the seed and some names,
// so samples of one bill never depend on what happened to another.
func (s *sampler) streamSeed(parts ...string) (uint64, uint64) {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return uint64(s.seed), h.Sum64()
}

// foreignBuyer is the buyer of the non-compliant sample.
var foreignBuyer = Company{TaxNo: "91310115MA1K4QXN5R", Name: "上海浦东示范贸易有限公司"}

// acceptedBuyers are the companies whose invoices are compliant for this bill: companyInfo, then
// billTaxNo (named by its number), else a default. Strict mode keeps only companyInfo when given.
func (s *sampler) acceptedBuyers(b *bill) []Company {
	out := make([]Company, 0, len(b.companies)+1)
	seen := map[string]bool{}
	for _, c := range b.companies {
		k := normTaxNo(c.TaxNo)
		if !seen[k] {
			seen[k] = true
			out = append(out, c)
		}
	}
	if s.strict && len(out) > 0 {
		return out
	}
	if k := normTaxNo(b.billTaxNo); k != "" && !seen[k] {
		out = append(out, Company{TaxNo: b.billTaxNo, Name: b.billTaxNo})
	}
	if len(out) == 0 {
		out = append(out, defaultBuyer)
	}
	return out
}

func normTaxNo(v string) string { return strings.ToUpper(strings.TrimSpace(v)) }

// complianceProblem says why inv is not compliant for b ("" when it is). The buyer's tax number
// decides; in strict mode its name must also be the companyInfo entry's (the vendor: 税号和企业名称).
func (s *sampler) complianceProblem(b *bill, inv Invoice) string {
	for _, c := range s.acceptedBuyers(b) {
		if normTaxNo(c.TaxNo) != normTaxNo(inv.BuyerTaxNo) {
			continue
		}
		if s.strict && len(b.companies) > 0 && strings.TrimSpace(inv.BuyerName) != strings.TrimSpace(c.Name) {
			return "不合规：购方名称 " + inv.BuyerName + " 与税号 " + inv.BuyerTaxNo + " 的企业名称 " + c.Name + " 不一致 (companyInfo)"
		}
		if inv.InvoiceStatus != "" && inv.InvoiceStatus != "0" {
			return "不合规：发票状态异常 (invoiceStatus " + inv.InvoiceStatus + ")"
		}
		return ""
	}
	return "不合规：购方税号 " + inv.BuyerTaxNo + " 不是本单据的企业 (companyInfo)"
}

// ensureSamples generates samples until there are at least n.
func (s *sampler) ensureSamples(b *bill, n int) {
	if b.bySerial == nil {
		b.bySerial = map[string]int{}
	}
	for len(b.samples) < n {
		i := len(b.samples)
		sm := s.generateSample(b, i)
		b.samples = append(b.samples, sm)
		b.bySerial[sm.inv.SerialNo] = i
	}
}

// nonCompliantIndex is the position (1..7) of the first page's sample issued to another buyer.
func (s *sampler) nonCompliantIndex(b *bill) int {
	r := rand.New(rand.NewPCG(s.streamSeed("noncompliant", b.key.Resource, b.key.BillID)))
	return 1 + r.IntN(samplesPerPage-1)
}

func (s *sampler) generateSample(b *bill, i int) sample {
	page := i / samplesPerPage
	perm := rand.New(rand.NewPCG(s.streamSeed("types", b.key.Resource, b.key.BillID, strconv.Itoa(page)))).Perm(len(sampleTypes))
	typ := sampleTypes[perm[i%samplesPerPage]]
	r := rand.New(rand.NewPCG(s.streamSeed("sample", b.key.Resource, b.key.BillID, strconv.Itoa(i))))

	buyer := s.acceptedBuyers(b)[0]
	compliant := true
	if i == s.nonCompliantIndex(b) {
		buyer = foreignBuyer
		for _, c := range s.acceptedBuyers(b) {
			if normTaxNo(c.TaxNo) == normTaxNo(foreignBuyer.TaxNo) {
				buyer = Company{TaxNo: "91310115MA1K4QXN6S", Name: foreignBuyer.Name}
			}
		}
		compliant = false
	}
	date := b.created.AddDate(0, 0, -r.IntN(60)).Format("2006-01-02")
	inv := Invoice{
		SerialNo:      randomHex(r, 32),
		InvoiceType:   typ,
		InvoiceDate:   date,
		BuyerName:     buyer.Name,
		BuyerTaxNo:    buyer.TaxNo,
		InvoiceStatus: "0",
	}
	switch typ {
	case "9", "10":
		fillTravelTicket(r, &inv)
	default:
		fillVATInvoice(r, &inv)
	}
	sm := sample{inv: inv, compliant: compliant}
	if !compliant {
		sm.reason = s.complianceProblem(b, inv)
	}
	return sm
}

func fillVATInvoice(r *rand.Rand, inv *Invoice) {
	sel := vatSellers[r.IntN(len(vatSellers))]
	inv.SalerName, inv.SalerTaxNo = sel.name, sel.taxNo
	rs := rates[inv.InvoiceType]
	rate := decimal.RequireFromString(rs[r.IntN(len(rs))])
	inv.TaxRate = rate.String()
	switch inv.InvoiceType {
	case "4":
		inv.InvoiceCode = "44" + randomDigits(r, 8)
		inv.InvoiceNo = randomDigits(r, 8)
	case "1":
		inv.InvoiceCode = "0440" + randomDigits(r, 8)
		inv.InvoiceNo = randomDigits(r, 8)
		inv.CheckCode = randomDigits(r, 20)
	default: // 数电: one 20-digit number, no code
		inv.InvoiceNo = inv.InvoiceDate[2:4] + "44" + randomDigits(r, 16)
		inv.EtaxInvoiceNo = inv.InvoiceNo
	}
	amount := decimal.New(int64(5_000+r.IntN(995_000)), -2) // 50.00 .. 10000.00 excluding tax
	lines := 1 + r.IntN(2)
	var items []InvoiceItem
	rest := amount
	for l := 0; l < lines; l++ {
		part := rest
		if l < lines-1 {
			part = amount.Mul(decimal.New(int64(30+r.IntN(41)), -2)).Round(2) // 30%..70%
		}
		rest = rest.Sub(part)
		num := decimal.NewFromInt(int64([]int{1, 1, 2, 3, 5, 10}[r.IntN(6)]))
		items = append(items, InvoiceItem{
			GoodsName: sel.goods, Unit: sel.unit, Num: num,
			UnitPrice: part.DivRound(num, 8), Amount: part, TaxRate: inv.TaxRate,
			TaxAmount: part.Mul(rate).Round(2),
		})
	}
	if len(items) > 1 {
		items[1].GoodsName = vatSellers[(r.IntN(len(vatSellers)))].goods
		items[1].SpecModel = "标准"
	}
	tax := decimal.Zero
	for _, it := range items {
		tax = tax.Add(it.TaxAmount)
	}
	inv.Items = items
	inv.InvoiceAmount = amount
	inv.TotalTaxAmount = tax
	inv.TotalAmount = amount.Add(tax)
	if inv.InvoiceType == "4" || inv.InvoiceType == "27" {
		inv.EffectiveTaxAmount = tax // special invoices: the input VAT is deductible
	} else {
		inv.EffectiveTaxAmount = decimal.Zero
	}
}

// fillTravelTicket: the fare includes 9% VAT, deductible for employees' travel.
func fillTravelTicket(r *rand.Rand, inv *Invoice) {
	var sel seller
	var fare decimal.Decimal
	if inv.InvoiceType == "9" {
		sel = trainSellers[r.IntN(len(trainSellers))]
		fare = decimal.New(int64(50+r.IntN(1150))*10+int64(5*r.IntN(2)), -1) // 50.0 .. 1199.5
		inv.InvoiceNo = string(rune('A'+r.IntN(26))) + randomDigits(r, 6)
	} else {
		sel = airSellers[r.IntN(len(airSellers))]
		fare = decimal.NewFromInt(int64(380 + 10*r.IntN(260))) // 380 .. 2970
		inv.InvoiceNo = randomDigits(r, 10)
	}
	inv.SalerName, inv.SalerTaxNo = sel.name, sel.taxNo
	rate := decimal.RequireFromString("0.09")
	inv.TaxRate = rate.String()
	amount := fare.DivRound(decimal.NewFromInt(1).Add(rate), 2)
	tax := fare.Sub(amount)
	inv.InvoiceAmount, inv.TotalTaxAmount, inv.TotalAmount, inv.EffectiveTaxAmount = amount, tax, fare, tax
	inv.Items = []InvoiceItem{{
		GoodsName: sel.goods, Unit: sel.unit, Num: decimal.NewFromInt(1), UnitPrice: amount,
		Amount: amount, TaxRate: inv.TaxRate, TaxAmount: tax,
	}}
}

// visibleSamples is how many samples the collect page lists: whole pages, enough that at
// least seven are still importable.
func (s *sampler) visibleSamples(b *bill) int {
	for n := samplesPerPage; ; n += samplesPerPage {
		s.ensureSamples(b, n)
		open := 0
		for i := 0; i < n; i++ {
			if b.samples[i].compliant && !b.imported[i] {
				open++
			}
		}
		if open >= samplesPerPage-1 {
			return n
		}
	}
}

// resetSamples forgets generated samples (the buyer changed); imported ones stay imported.
func (b *bill) resetSamples() {
	b.samples = nil
	b.bySerial = nil
}
